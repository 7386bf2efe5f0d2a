"""Sluice's PySpark runner: executes one compiled SQL step and writes its result to the lake.

Usage: spark-submit ... spark_sql_runner.py <job.json>

The job file (written by the Spark activity) holds:
  sources: [{view, format: "kafka", bootstrapServers, topic, startingOffsets, endingOffsets, schema}
            | {view, format: "parquet", path}]
  sql:     the query, over the source views
  output:  {path, partitionBy?: [...]}

Kafka sources are read as a batch between fixed offsets, so a re-run reads exactly the same
records. The output is written to a hidden temporary folder beside the target and then renamed
into place, so no reader ever sees half a partition. The last stdout line is
`SLUICE_RESULT {json}` with the row count, columns and application id; the same JSON is written as
`_SLUICE_RESULT.json` inside the partition, atomically with the data.
"""

import json
import os
import shutil
import sys
import uuid

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def read_source(spark, src):
    fmt = src["format"]
    if fmt == "kafka":
        raw = (
            spark.read.format("kafka")
            .option("kafka.bootstrap.servers", src["bootstrapServers"])
            .option("subscribe", src["topic"])
            .option("startingOffsets", offsets_option(src["topic"], src.get("startingOffsets", "earliest")))
            .option("endingOffsets", offsets_option(src["topic"], src.get("endingOffsets", "latest")))
            .option("failOnDataLoss", "true")
            .load()
        )
        parsed = raw.select(
            F.from_json(F.col("value").cast("string"), src["schema"], {"mode": "FAILFAST"}).alias("r"),
            F.col("partition").alias("_kafka_partition"),
            F.col("offset").alias("_kafka_offset"),
        )
        return parsed.select("r.*", "_kafka_partition", "_kafka_offset")
    if fmt == "parquet":
        return spark.read.parquet(src["path"])
    raise ValueError(f"sources[].format: unsupported format {fmt!r}")


def offsets_option(topic, offsets):
    """Spark takes "earliest"/"latest" or {"topic": {"partition": offset}}."""
    if isinstance(offsets, str):
        return offsets
    return json.dumps({topic: {str(p): int(o) for p, o in offsets.items()}})


def write_atomically(spark, df, target, partition_by, app_id):
    """Writes df to a hidden folder beside target, adds the result marker, then renames it into place."""
    parent = os.path.dirname(target.rstrip("/"))
    os.makedirs(parent, exist_ok=True)
    token = uuid.uuid4().hex[:12]
    tmp = os.path.join(parent, f".{os.path.basename(target)}.tmp-{token}")
    writer = df.write.mode("errorifexists")
    if partition_by:
        writer = writer.partitionBy(*partition_by)
    writer.parquet(tmp)
    written = spark.read.parquet(tmp)
    summary = {
        "rows": written.count(),
        "columns": [{"name": f.name, "type": f.dataType.simpleString()} for f in written.schema.fields],
        "output": target,
        "applicationId": app_id,
    }
    # The marker travels with the data: whoever finds the partition finds which application wrote it.
    with open(os.path.join(tmp, "_SLUICE_RESULT.json"), "w") as f:
        json.dump(summary, f)
    old = None
    if os.path.exists(target):
        old = os.path.join(parent, f".{os.path.basename(target)}.old-{token}")
        os.rename(target, old)
    os.rename(tmp, target)
    if old:
        shutil.rmtree(old, ignore_errors=True)
    return summary


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    spark = SparkSession.builder.getOrCreate()
    try:
        for src in job.get("sources", []):
            read_source(spark, src).createOrReplaceTempView(src["view"])
        result = spark.sql(job["sql"])
        out = job["output"]
        summary = write_atomically(
            spark, result, out["path"], out.get("partitionBy") or [], spark.sparkContext.applicationId
        )
        print("SLUICE_RESULT " + json.dumps(summary), flush=True)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
