"""Sluice's PySpark runner: one batch step as its own Spark application (`batch.engine: submit`).

Usage: spark-submit ... spark_sql_runner.py <job.json>

The job file (written by the Spark activity) holds the step's plan (lib/spark-step.ts), the same
SQL the Spark Connect path runs:
  setup:   statements run in order (temporary views over the sources, the table if missing)
  query:   the partition's rows
  table:   the pipeline's Iceberg table, e.g. lake.`page-views`.batch
  options: write options (the commit's snapshot summary properties)
  resultFile: where the result goes once the commit is done

The write is a dynamic partition overwrite: one atomic Iceberg commit that replaces exactly the
step's partition, so a re-run replaces it instead of adding to it. The last stdout line is
`SLUICE_RESULT {json}` with the row count, columns, snapshot id and application id; the same JSON
is written to resultFile after the commit (a retry of the activity finds it there).
"""

import json
import os
import sys

from pyspark.sql import SparkSession


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    plan = job["plan"]
    spark = SparkSession.builder.getOrCreate()
    try:
        for statement in plan["setup"]:
            spark.sql(statement)
        app_id = spark.sparkContext.applicationId
        df = spark.sql(plan["query"])
        writer = df.writeTo(plan["table"])
        for key, value in plan["options"].items():
            writer = writer.option(key, value)
        writer.overwritePartitions()
        step = plan["options"].get("snapshot-property.sluice.step")
        snap = spark.sql(
            f"SELECT CAST(snapshot_id AS STRING) AS id, summary['added-records'] AS n FROM {plan['table']}.snapshots "
            f"WHERE summary['spark.app.id'] = '{app_id}' ORDER BY committed_at DESC LIMIT 1"
        ).collect()
        summary = {
            "rows": int(snap[0]["n"]) if snap else 0,
            "columns": [{"name": f.name, "type": f.dataType.simpleString()} for f in df.schema.fields],
            "output": plan["table"],
            "snapshotId": snap[0]["id"] if snap else None,
            "applicationId": app_id,
            "step": step,
        }
        tmp = job["resultFile"] + ".tmp"
        with open(tmp, "w") as f:
            json.dump(summary, f)
        os.replace(tmp, job["resultFile"])
        print("SLUICE_RESULT " + json.dumps(summary), flush=True)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
