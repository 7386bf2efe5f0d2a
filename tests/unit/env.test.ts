import { ConfigError, parseEnv } from '../../config/env';

const problemsOf = (vars: Record<string, string>): string[] => {
  try {
    parseEnv(vars);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
};

test('defaults match the local stack', () => {
  const env = parseEnv({});
  expect(env.TEMPORAL_ADDRESS).toBe('127.0.0.1:7233');
  expect(env.SLUICE_KAFKA_BROKERS).toEqual(['127.0.0.1:9092']);
  expect(env.SLUICE_SPARK_MASTER).toBe('spark://127.0.0.1:7077');
  expect(env.SLUICE_FLINK_REST).toBe('http://127.0.0.1:8081');
  expect(env.SLUICE_FLINK_SQL_GATEWAY).toBe('http://127.0.0.1:8083');
  expect(env.SLUICE_TASK_QUEUE).toBe('sluice');
  expect(env.SLUICE_LAKE).toMatch(/data\/lake$/);
});

test('lists and numbers are parsed', () => {
  const env = parseEnv({ SLUICE_KAFKA_BROKERS: 'a:1, b:2', SLUICE_WORKER_MAX_ACTIVITIES: '7' });
  expect(env.SLUICE_KAFKA_BROKERS).toEqual(['a:1', 'b:2']);
  expect(env.SLUICE_WORKER_MAX_ACTIVITIES).toBe(7);
});

test('a wrong variable is named, with what is wrong and what it got', () => {
  expect(problemsOf({ TEMPORAL_ADDRESS: 'no-port' })).toEqual([
    'TEMPORAL_ADDRESS: expected host:port, e.g. 127.0.0.1:7233 (got "no-port")',
  ]);
  expect(problemsOf({ SLUICE_FLINK_REST: 'localhost:8081' })[0]).toMatch(
    /^SLUICE_FLINK_REST: expected an http\(s\) URL/,
  );
  expect(problemsOf({ SLUICE_WORKER_MAX_ACTIVITIES: '-3' })[0]).toMatch(/^SLUICE_WORKER_MAX_ACTIVITIES: /);
  expect(problemsOf({ SLUICE_SPARK_MASTER: 'yarn' })[0]).toMatch(/^SLUICE_SPARK_MASTER: expected spark:\/\/host:port/);
});

test('an unknown SLUICE_ variable is an error, with a suggestion', () => {
  expect(problemsOf({ SLUICE_KAFKA_BROKER: 'a:1' })).toEqual([
    'SLUICE_KAFKA_BROKER: unknown variable (did you mean SLUICE_KAFKA_BROKERS?)',
  ]);
});

test('every problem is reported at once: unknown, wrong and inconsistent variables together', () => {
  expect(problemsOf({ SLUICE_KAFKA_BROKER: 'a:1', TEMPORAL_ADDRESS: 'x', TEMPORAL_TLS_CERT: '/c.pem' })).toEqual([
    'SLUICE_KAFKA_BROKER: unknown variable (did you mean SLUICE_KAFKA_BROKERS?)',
    'TEMPORAL_ADDRESS: expected host:port, e.g. 127.0.0.1:7233 (got "x")',
    'TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY: set both (mTLS needs the certificate and its key) or neither',
  ]);
});

test('TLS needs both certificate and key', () => {
  expect(problemsOf({ TEMPORAL_TLS_CERT: '/c.pem' })).toEqual([
    'TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY: set both (mTLS needs the certificate and its key) or neither',
  ]);
});

test('empty values count as unset', () => {
  expect(parseEnv({ SLUICE_TASK_QUEUE: '' }).SLUICE_TASK_QUEUE).toBe('sluice');
});
