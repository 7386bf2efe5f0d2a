# The Sluice worker: Node 20 for the worker, Java 17 + Spark's client for spark-submit (the PySpark
# runner's driver runs here in client mode), the Kafka source jars for Spark, Iceberg's Spark runtime
# for the lake's catalog, and the Spark Connect protocol files its gRPC client loads.
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.build.json

FROM node:20-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless python3 python3-pip unzip \
    && rm -rf /var/lib/apt/lists/*
RUN pip3 install --break-system-packages pyspark==4.1.1 \
    && ln -s "$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')" /opt/spark
ADD https://repo.maven.apache.org/maven2/org/apache/spark/spark-sql-kafka-0-10_2.13/4.1.1/spark-sql-kafka-0-10_2.13-4.1.1.jar \
    https://repo.maven.apache.org/maven2/org/apache/spark/spark-token-provider-kafka-0-10_2.13/4.1.1/spark-token-provider-kafka-0-10_2.13-4.1.1.jar \
    https://repo.maven.apache.org/maven2/org/apache/kafka/kafka-clients/3.9.1/kafka-clients-3.9.1.jar \
    https://repo.maven.apache.org/maven2/org/apache/commons/commons-pool2/2.12.1/commons-pool2-2.12.1.jar \
    /opt/sluice/jars/
# The lake's catalog (Iceberg's runtime, S3FileIO) for the spark-submit drivers that run here, linked
# into Spark's own jars/ rather than listed in SLUICE_SPARK_JARS: --jars would ship them to every
# application's executors (48 MB + 69 MB each time), which have them already (deploy/spark.Dockerfile).
ADD https://repo.maven.apache.org/maven2/org/apache/iceberg/iceberg-spark-runtime-4.1_2.13/1.12.0/iceberg-spark-runtime-4.1_2.13-1.12.0.jar \
    https://repo.maven.apache.org/maven2/org/apache/iceberg/iceberg-aws-bundle/1.12.0/iceberg-aws-bundle-1.12.0.jar \
    /opt/sluice/iceberg/
RUN ln -s /opt/sluice/iceberg/*.jar /opt/spark/jars/
# SLUICE_SPARK_CONNECT_PROTO: the protocol files ship inside the server's jar (pyspark has it; Maven
# Central has no spark-connect_2.13 4.1.1), with the google/protobuf imports they need.
RUN mkdir -p /opt/sluice/spark-connect-proto \
    && unzip -q /opt/spark/jars/spark-connect_2.13-4.1.1.jar 'spark/connect/*.proto' 'google/protobuf/*.proto' \
        -d /opt/sluice/spark-connect-proto \
    && test -f /opt/sluice/spark-connect-proto/spark/connect/base.proto
WORKDIR /opt/sluice/app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /src/dist ./dist
COPY jobs ./jobs
CMD ["node", "dist/workers/main.js"]
