// Jest setup for suites that run workers: keep the SDK's logs at WARN so test output stays readable.
import { installWorkerRuntime } from '../../workers/runtime';

installWorkerRuntime();
