/**
 * The SQL of a batch step both engines run (lib/spark-step.ts), and the ids a Spark Connect step
 * derives (engines/spark-connect-step.ts): deterministic per step and attempt, never shared.
 */
import fc from 'fast-check';
import { executionIds, stepTag, uuidFor } from '../../engines/spark-connect-step';
import { batchStepPlan, sqlString } from '../../lib/spark-step';

const kafka = {
  view: 'raw_events',
  format: 'kafka' as const,
  bootstrapServers: '127.0.0.1:9092',
  topic: 'views',
  startingOffsets: { '0': 0, '1': 5 },
  endingOffsets: { '0': 10, '1': 20 },
  schema: '`user` STRING, `ts` BIGINT',
};

describe('batchStepPlan', () => {
  const plan = batchStepPlan({
    stepName: 'sluice-views-2026-11-20T05-run-s1',
    sources: [kafka],
    sql: 'SELECT `user`, COUNT(*) AS n FROM raw_events GROUP BY `user`',
    table: 'lake.`page-views`.batch',
    partition: '2026-11-20T05',
  });

  it('reads committed Kafka records between the fixed offsets, failing on lost data and on malformed records', () => {
    expect(plan.setup[0]).toBe(
      "CREATE OR REPLACE TEMPORARY VIEW `_kafka_raw_events` USING kafka OPTIONS ('kafka.bootstrap.servers' '127.0.0.1:9092', " +
        '\'subscribe\' \'views\', \'startingOffsets\' \'{"views":{"0":0,"1":5}}\', \'endingOffsets\' \'{"views":{"0":10,"1":20}}\', ' +
        "'failOnDataLoss' 'true', 'kafka.isolation.level' 'read_committed')",
    );
    expect(plan.setup[1]).toContain(
      "from_json(CAST(`value` AS STRING), '`user` STRING, `ts` BIGINT', map('mode', 'FAILFAST'))",
    );
    expect(plan.setup[1]).toMatch(/^CREATE OR REPLACE TEMPORARY VIEW `raw_events` AS /);
  });

  it('creates the namespace and the partitioned table only when missing, from the query with no rows', () => {
    expect(plan.setup.slice(2)).toEqual([
      'CREATE NAMESPACE IF NOT EXISTS lake.`page-views`',
      "CREATE TABLE IF NOT EXISTS lake.`page-views`.batch USING iceberg PARTITIONED BY (`partition`) TBLPROPERTIES ('format-version' = '2') " +
        `AS SELECT * FROM (${plan.query}) AS \`empty\` LIMIT 0`,
    ]);
  });

  it('adds the partition column, overwrites exactly that partition, and names the step in the commit', () => {
    expect(plan.query).toBe(
      "SELECT *, '2026-11-20T05' AS `partition` FROM (\nSELECT `user`, COUNT(*) AS n FROM raw_events GROUP BY `user`\n) AS `step`",
    );
    expect(plan.overwrite).toBe("`partition` = '2026-11-20T05'");
    expect(plan.options).toEqual({ 'snapshot-property.sluice.step': 'sluice-views-2026-11-20T05-run-s1' });
  });

  it('reads a lake table by partition prefix', () => {
    const lake = batchStepPlan({
      stepName: 's',
      sources: [
        { view: 'raw_events', format: 'iceberg', table: 'lake.`page-views`.batch', partitionPrefix: '2026-11-25' },
      ],
      sql: 'SELECT 1',
      table: 'lake.`daily`.batch',
      partition: '2026-11-25',
    });
    expect(lake.setup[0]).toBe(
      "CREATE OR REPLACE TEMPORARY VIEW `raw_events` AS SELECT * FROM lake.`page-views`.batch WHERE startswith(`partition`, '2026-11-25')",
    );
  });

  it('refuses a Kafka source whose brokers were not filled in', () => {
    expect(() =>
      batchStepPlan({
        stepName: 's',
        sources: [{ ...kafka, bootstrapServers: undefined }],
        sql: 'SELECT 1',
        table: 't.x.batch',
        partition: 'p',
      }),
    ).toThrow('source raw_events: Kafka brokers unresolved');
  });

  it('quotes string literals so that no value ends one early', () => {
    expect(sqlString("it's")).toBe("'it\\'s'");
    expect(sqlString('a\\b')).toBe("'a\\\\b'");
  });
});

describe('Spark Connect step ids', () => {
  it('are UUIDs (version 8, RFC 9562 variant), the same for the same key', () => {
    fc.assert(
      fc.property(fc.string(), (key) => {
        const id = uuidFor(key);
        expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        expect(uuidFor(key)).toBe(id);
      }),
    );
  });

  it('differ for every attempt, execution and step, and session and operation never coincide', () => {
    const ids = [
      executionIds('step-a', 1),
      executionIds('step-a', 1, 1),
      executionIds('step-a', 2),
      executionIds('step-b', 1),
    ].flatMap((e) => [e.sessionId, e.operationId]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(executionIds('step-a', 2)).toEqual(executionIds('step-a', 2, 0));
  });

  it('tag a step the same way on every attempt', () => {
    expect(stepTag('step-a')).toBe(stepTag('step-a'));
    expect(stepTag('step-a')).not.toBe(stepTag('step-b'));
    expect(stepTag('step-a')).toMatch(/^sluice-step-[0-9a-f]{24}$/);
  });
});
