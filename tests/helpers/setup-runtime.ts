// Jest setup for suites that run workers: keep the SDK's logs at WARN so test output stays readable.
import { DefaultLogger, Runtime } from '@temporalio/worker';

Runtime.install({ logger: new DefaultLogger('WARN') });
