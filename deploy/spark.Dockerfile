# Spark 4.1.1 for the standalone master, its worker and the Spark Connect server, one image for all
# three so that every JVM of an application (the Connect server's driver, spark-submit executors) has
# the same classpath: Iceberg's Spark runtime and its AWS bundle (the lake's REST catalog and S3FileIO
# over MinIO), and the Kafka source jars the Sluice worker lists in SLUICE_SPARK_JARS.
FROM apache/spark:4.1.1-python3
ADD --chown=spark:spark \
    https://repo.maven.apache.org/maven2/org/apache/iceberg/iceberg-spark-runtime-4.1_2.13/1.12.0/iceberg-spark-runtime-4.1_2.13-1.12.0.jar \
    https://repo.maven.apache.org/maven2/org/apache/iceberg/iceberg-aws-bundle/1.12.0/iceberg-aws-bundle-1.12.0.jar \
    https://repo.maven.apache.org/maven2/org/apache/spark/spark-sql-kafka-0-10_2.13/4.1.1/spark-sql-kafka-0-10_2.13-4.1.1.jar \
    https://repo.maven.apache.org/maven2/org/apache/spark/spark-token-provider-kafka-0-10_2.13/4.1.1/spark-token-provider-kafka-0-10_2.13-4.1.1.jar \
    https://repo.maven.apache.org/maven2/org/apache/kafka/kafka-clients/3.9.1/kafka-clients-3.9.1.jar \
    https://repo.maven.apache.org/maven2/org/apache/commons/commons-pool2/2.12.1/commons-pool2-2.12.1.jar \
    /opt/spark/jars/
# The Connect server ships in Spark's own jars/ (spark-connect_2.13 4.1.1 is not on Maven Central):
# fail the build here rather than the server at start.
RUN test -f /opt/spark/jars/spark-connect_2.13-4.1.1.jar
# The Connect server's scheduler pools (spark.scheduler.allocation.file).
COPY --chown=spark:spark deploy/spark-fairscheduler.xml /opt/spark/conf/fairscheduler.xml
