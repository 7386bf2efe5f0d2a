# Flink 2.2 with what the local stack adds (stack/versions.ts, stack/install.ts): the Kafka SQL
# connector, Iceberg's Flink runtime (the lake's table format; no 2.2 build is published, the 2.1
# runtime runs on 2.2) and the shaded Hadoop client its catalog and file IO need; and, for the REST
# catalog of docker-compose.yml, Iceberg's AWS bundle (S3FileIO over MinIO), of the runtime's version.
FROM flink:2.2.1-java17
ADD --chown=flink:flink https://repo.maven.apache.org/maven2/org/apache/flink/flink-sql-connector-kafka/5.0.0-2.2/flink-sql-connector-kafka-5.0.0-2.2.jar /opt/flink/lib/
ADD --chown=flink:flink https://repo.maven.apache.org/maven2/org/apache/iceberg/iceberg-flink-runtime-2.1/1.11.0/iceberg-flink-runtime-2.1-1.11.0.jar /opt/flink/lib/
ADD --chown=flink:flink https://repo.maven.apache.org/maven2/org/apache/hadoop/hadoop-client-api/3.4.1/hadoop-client-api-3.4.1.jar /opt/flink/lib/
ADD --chown=flink:flink https://repo.maven.apache.org/maven2/org/apache/hadoop/hadoop-client-runtime/3.4.1/hadoop-client-runtime-3.4.1.jar /opt/flink/lib/
ADD --chown=flink:flink https://repo.maven.apache.org/maven2/org/apache/iceberg/iceberg-aws-bundle/1.11.0/iceberg-aws-bundle-1.11.0.jar /opt/flink/lib/
