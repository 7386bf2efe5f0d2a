// Jest setup for suites that run workers: keep the SDK's logs at WARN so test output stays readable.
// No forwarding: a forwarding runtime would hold jest's event loop open after the last test.
import { installWorkerRuntime } from '../../workers/runtime';

installWorkerRuntime({ forwardCoreLogs: false });
