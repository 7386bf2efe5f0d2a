# The Sluice worker: Node 20 for the worker, Java 17 + Spark's client for spark-submit (the PySpark
# runner's driver runs here in client mode), and the Kafka source jars for Spark.
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npx tsc -p tsconfig.build.json

FROM node:20-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless python3 python3-pip \
    && rm -rf /var/lib/apt/lists/*
RUN pip3 install --break-system-packages pyspark==4.1.1 \
    && ln -s "$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')" /opt/spark
ADD https://repo.maven.apache.org/maven2/org/apache/spark/spark-sql-kafka-0-10_2.13/4.1.1/spark-sql-kafka-0-10_2.13-4.1.1.jar \
    https://repo.maven.apache.org/maven2/org/apache/spark/spark-token-provider-kafka-0-10_2.13/4.1.1/spark-token-provider-kafka-0-10_2.13-4.1.1.jar \
    https://repo.maven.apache.org/maven2/org/apache/kafka/kafka-clients/3.9.1/kafka-clients-3.9.1.jar \
    https://repo.maven.apache.org/maven2/org/apache/commons/commons-pool2/2.12.1/commons-pool2-2.12.1.jar \
    /opt/sluice/jars/
WORKDIR /opt/sluice/app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /src/dist ./dist
COPY jobs ./jobs
CMD ["node", "dist/workers/main.js"]
