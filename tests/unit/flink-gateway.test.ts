/**
 * The Flink client's failure classification, against a local HTTP server that answers as the SQL
 * Gateway and the JobManager do (shapes as on the live 2.2 stack): no answer or a 5xx while
 * fetching a result is retryable, and a retried `flinkSqlJob` finds the job its first attempt
 * submitted; only a statement Flink ended in ERROR is the permanent `FlinkSqlRejected`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities } from '../../activities';
import type { ActivityDeps } from '../../activities/deps';
import { createKafkaClient } from '../../engines/kafka';
import { FIXED_JOB_ID_KEY, FlinkSqlRejected, SqlGatewaySession } from '../../engines/flink';
import { HttpError } from '../../lib/http';

interface Statement {
  statement: string;
  executionConfig: Record<string, string>;
}

/** How the fake answers a result fetch: as the gateway does, not at all, or with a 503. */
type ResultMode = 'answer' | 'hang' | 'unavailable';

class FakeFlink {
  readonly statements: Statement[] = [];
  readonly jobs = new Map<string, string>();
  resultMode: ResultMode = 'answer';
  private server!: http.Server;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body = '';
    for await (const chunk of req) body += chunk;
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const url = req.url ?? '';
    let m: RegExpExecArray | null;
    if (req.method === 'POST' && url === '/v3/sessions') return json(200, { sessionHandle: 's1' });
    if (req.method === 'POST' && url === '/v3/sessions/s1/statements') {
      this.statements.push(JSON.parse(body) as Statement);
      return json(200, { operationHandle: `op${this.statements.length - 1}` });
    }
    if ((m = /^\/v3\/sessions\/s1\/operations\/op(\d+)\/status$/.exec(url))) {
      return json(200, { status: this.failed(Number(m[1])) ? 'ERROR' : 'FINISHED' });
    }
    if ((m = /^\/v3\/sessions\/s1\/operations\/op(\d+)\/result\/0/.exec(url))) {
      const n = Number(m[1]);
      if (this.failed(n)) {
        return json(500, {
          errors: [
            'Internal server error.',
            'org.apache.flink.table.gateway.api.utils.SqlGatewayException: Failed to fetchResults.\n' +
              "Caused by: org.apache.flink.table.api.ValidationException: Object 'nope' not found",
          ],
        });
      }
      const { statement, executionConfig } = this.statements[n]!;
      const jobId = statement.startsWith('INSERT') ? executionConfig[FIXED_JOB_ID_KEY] : undefined;
      if (jobId) this.jobs.set(jobId, executionConfig['pipeline.name']!);
      if (this.resultMode === 'hang') return; // never answers: the client's timeout must fire
      if (this.resultMode === 'unavailable') return json(503, { errors: ['Service temporarily unavailable'] });
      return json(200, { resultType: 'EOS', jobID: jobId, results: { columns: [], data: [] } });
    }
    if ((m = /^\/jobs\/([0-9a-f]{32})$/.exec(url))) {
      const name = this.jobs.get(m[1]!);
      return name ? json(200, { state: 'FINISHED', name }) : json(404, { errors: ['Job could not be found.'] });
    }
    if (req.method === 'DELETE') return json(200, {});
    json(404, { errors: [`no route ${req.method} ${url}`] });
  }

  private failed(op: number): boolean {
    return /nope/.test(this.statements[op]!.statement);
  }
}

const flink = new FakeFlink();
beforeAll(() => flink.start());
afterAll(() => flink.stop());
beforeEach(() => {
  flink.statements.length = 0;
  flink.jobs.clear();
  flink.resultMode = 'answer';
});

const deps = (): ActivityDeps => ({
  kafka: createKafkaClient(['127.0.0.1:1']), // never connected by these activities
  brokers: ['127.0.0.1:1'],
  postgresUrl: 'postgres://nobody@127.0.0.1:1/none',
  spark: {
    master: 'local[1]',
    uiUrl: 'http://127.0.0.1:1',
    sparkHome: '/none',
    python: 'python3',
    jars: [],
    workDir: '/tmp',
  },
  sparkConnect: { address: '127.0.0.1:1', uiUrl: 'http://127.0.0.1:1', protoDir: '/none' },
  lakeCatalog: { type: 'hadoop', warehouse: 'file:///tmp/lake/iceberg' },
  flink: { restUrl: flink.url, gatewayUrl: flink.url, requestTimeoutMs: 300 },
  lake: '/tmp/lake',
});
const info = { workflowExecution: { workflowId: 'hello/unit', runId: 'r1' }, activityId: '7' };
const job = { name: 'sluice-unit', ddl: ['CREATE TABLE t (x INT)'], insert: 'INSERT INTO t SELECT 1' };

describe('SqlGatewaySession', () => {
  test('no answer while fetching a result is a retryable failure, not a refusal', async () => {
    flink.resultMode = 'hang';
    const session = await SqlGatewaySession.open(flink.url, 'unit', {}, { requestTimeoutMs: 300 });
    const err = await session.execute('SELECT 1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).not.toBeInstanceOf(FlinkSqlRejected);
    expect((err as HttpError).retryable).toBe(true);
    expect((err as HttpError).message).toContain('no answer within 300 ms');
  });

  test('a 5xx while fetching a result is retryable, with the status kept', async () => {
    flink.resultMode = 'unavailable';
    const session = await SqlGatewaySession.open(flink.url, 'unit');
    const err = (await session.execute('SELECT 1').catch((e: unknown) => e)) as HttpError;
    expect(err).toBeInstanceOf(HttpError);
    expect([err.status, err.retryable]).toEqual([503, true]);
  });

  test("a statement Flink ends in ERROR is FlinkSqlRejected with Flink's own cause", async () => {
    const session = await SqlGatewaySession.open(flink.url, 'unit');
    const err = await session.execute('SELECT * FROM nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlinkSqlRejected);
    expect((err as Error).message).toContain("ValidationException: Object 'nope' not found");
    expect((err as Error).cause).toBeInstanceOf(HttpError);
  });
});

describe('the flinkSqlJob activity', () => {
  test('a timeout fetching the INSERT result fails the attempt retryably; the retry follows the submitted job', async () => {
    const activities = createActivities(deps());
    flink.resultMode = 'hang';
    const first = await new MockActivityEnvironment(info).run(activities.flinkSqlJob, job).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(HttpError);
    expect(first).not.toBeInstanceOf(ApplicationFailure); // Temporal retries it
    flink.resultMode = 'answer';
    const second = (await new MockActivityEnvironment(info).run(activities.flinkSqlJob, job)) as {
      jobId: string;
      state: string;
    };
    expect(second.state).toBe('FINISHED');
    // One INSERT in all, under the job id the activity reports.
    const inserts = flink.statements.filter((s) => s.statement.startsWith('INSERT'));
    expect(inserts.map((s) => s.executionConfig[FIXED_JOB_ID_KEY])).toEqual([second.jobId]);
    // Another step of the run is another job.
    const other = (await new MockActivityEnvironment({ ...info, activityId: '8' }).run(
      activities.flinkSqlJob,
      job,
    )) as {
      jobId: string;
    };
    expect(other.jobId).not.toBe(second.jobId);
  });

  test('bad SQL fails for good: a non-retryable FlinkSqlRejected that keeps the engine error as its cause', async () => {
    const activities = createActivities(deps());
    const err = (await new MockActivityEnvironment(info)
      .run(activities.flinkSqlJob, { ...job, insert: 'INSERT INTO t SELECT * FROM nope' })
      .catch((e: unknown) => e)) as ApplicationFailure;
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect([err.type, err.nonRetryable]).toEqual(['FlinkSqlRejected', true]);
    expect(err.cause).toBeInstanceOf(FlinkSqlRejected);
    expect(flink.jobs.size).toBe(0);
  });
});
