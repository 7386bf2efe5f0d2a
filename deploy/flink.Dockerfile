# Flink 2.2 with the Kafka SQL connector the local stack uses (stack/versions.ts).
FROM flink:2.2.1-java17
ADD --chown=flink:flink https://repo.maven.apache.org/maven2/org/apache/flink/flink-sql-connector-kafka/5.0.0-2.2/flink-sql-connector-kafka-5.0.0-2.2.jar /opt/flink/lib/
