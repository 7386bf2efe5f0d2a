import * as fs from 'node:fs';
import type { Env } from '../config/env';

/** TLS and API-key options for both NativeConnection (worker) and Connection (client). */
export function connectionOptions(e: Env) {
  const read = (file: string, variable: string) => {
    try {
      return fs.readFileSync(file);
    } catch (err) {
      throw new Error(`${variable}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const mtls = e.TEMPORAL_TLS_CERT && e.TEMPORAL_TLS_KEY;
  const tls =
    mtls || e.TEMPORAL_TLS_CA
      ? {
          clientCertPair: mtls
            ? {
                crt: read(e.TEMPORAL_TLS_CERT!, 'TEMPORAL_TLS_CERT'),
                key: read(e.TEMPORAL_TLS_KEY!, 'TEMPORAL_TLS_KEY'),
              }
            : undefined,
          serverRootCACertificate: e.TEMPORAL_TLS_CA ? read(e.TEMPORAL_TLS_CA, 'TEMPORAL_TLS_CA') : undefined,
          serverNameOverride: e.TEMPORAL_TLS_SERVER_NAME,
        }
      : undefined;
  return { address: e.TEMPORAL_ADDRESS, tls, apiKey: e.TEMPORAL_API_KEY };
}
