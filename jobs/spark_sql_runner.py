"""Sluice's PySpark runner: one batch step as its own Spark application (`batch.engine: submit`).

Usage: spark-submit ... spark_sql_runner.py <job.json>

The job file (written by the Spark activity) holds the step's plan (lib/spark-step.ts), the same
SQL the Spark Connect path runs:
  setup:   statements run in order (temporary views over the sources, the table if missing)
  query:   the partition's rows
  table:   the pipeline's Iceberg table, e.g. lake.`page-views`.batch
  options: write options (the commit's snapshot summary properties)
  resultFile: where the result goes once the commit is done

The write overwrites exactly the step's partition: one atomic Iceberg commit that replaces it, so
a re-run replaces it instead of adding to it. The last stdout line is
`SLUICE_RESULT {json}` with the row count, columns, snapshot id and application id; the same JSON
is written to resultFile after the commit (a retry of the activity finds it there).
"""

import json
import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F


def run_setup(spark, statement):
    """A setup statement; CREATE TABLE IF NOT EXISTS racing another step on a new table may lose
    the catalog commit (the table then exists): run it once more and it sees the table."""
    try:
        spark.sql(statement)
    except Exception as err:  # noqa: BLE001 - Spark raises several exception types for this
        if "already exists" not in str(err) and "CommitFailed" not in str(err):
            raise
        spark.sql(statement)


def committed_snapshot(spark, table, app_id):
    rows = spark.sql(
        f"SELECT CAST(snapshot_id AS STRING) AS id, summary['added-records'] AS n FROM {table}.snapshots "
        f"WHERE summary['spark.app.id'] = '{app_id}' ORDER BY committed_at DESC LIMIT 1"
    ).collect()
    return rows[0] if rows else None


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    plan = job["plan"]
    spark = SparkSession.builder.getOrCreate()
    try:
        for statement in plan["setup"]:
            run_setup(spark, statement)
        app_id = spark.sparkContext.applicationId
        df = spark.sql(plan["query"])
        snap = None
        # On a Hadoop catalog, two applications committing the same table at the same instant can
        # both pass Iceberg's "version exists?" check; the loser's snapshot is then not in the
        # table's history. Look for it, and write again if it is missing (the overwrite is
        # idempotent): the validation that follows reads exactly this snapshot.
        for _ in range(3):
            writer = df.writeTo(plan["table"])
            for key, value in plan["options"].items():
                writer = writer.option(key, value)
            writer.overwrite(F.expr(plan["overwrite"]))
            snap = committed_snapshot(spark, plan["table"], app_id)
            if snap is not None:
                break
        if snap is None:
            raise RuntimeError(f"the commit of {app_id} to {plan['table']} is not in its snapshot log")
        step = plan["options"].get("snapshot-property.sluice.step")
        summary = {
            "rows": int(snap["n"] or 0),
            "columns": [{"name": f.name, "type": f.dataType.simpleString()} for f in df.schema.fields],
            "output": plan["table"],
            "snapshotId": snap["id"],
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
