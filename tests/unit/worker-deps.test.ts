import { ConfigError, parseEnv } from '../../config/env';
import { depsFromEnv } from '../../workers/deps';

const problemsOf = (fn: () => unknown): string[] => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

test("a worker outside the CLI names each Spark setting it lacks (nothing below the CLI knows the local stack's install)", () => {
  expect(problemsOf(() => depsFromEnv(parseEnv({ SLUICE_PYSPARK_PYTHON: '/usr/bin/python3' })))).toEqual([
    "SLUICE_SPARK_HOME: unset (set it, or run the worker with `sluice worker`, which uses the local stack's engines)",
    "SLUICE_SPARK_JARS: unset (set it, or run the worker with `sluice worker`, which uses the local stack's engines)",
    "SLUICE_SPARK_CONNECT_PROTO: unset (set it, or run the worker with `sluice worker`, which uses the local stack's engines)",
  ]);
});

test('defaults fill in what the configuration leaves unset, and the configuration wins', () => {
  const deps = depsFromEnv(parseEnv({ SLUICE_SPARK_HOME: '/opt/spark' }), {
    sparkHome: '/local/spark',
    python: '/local/python',
    jars: ['/local/a.jar'],
    connectProto: '/local/proto',
  });
  expect(deps.spark).toMatchObject({ sparkHome: '/opt/spark', python: '/local/python', jars: ['/local/a.jar'] });
  expect(deps.sparkConnect).toEqual({
    address: '127.0.0.1:15002',
    uiUrl: 'http://127.0.0.1:4040',
    protoDir: '/local/proto',
  });
  // spark-submit steps open the lake's catalog as the Connect server does: the local Hadoop catalog by default.
  expect(deps.lakeCatalog).toMatchObject({
    type: 'hadoop',
    warehouse: expect.stringMatching(/^file:\/\/.*\/iceberg$/),
  });
  expect(deps.spark.conf).toMatchObject({ 'spark.sql.catalog.lake.type': 'hadoop' });
  expect(
    depsFromEnv(parseEnv({ SLUICE_SPARK_JARS: '' }), { sparkHome: 's', python: 'p', jars: ['x'], connectProto: 'c' })
      .spark.jars,
  ).toEqual(['x']);
});
