import * as fs from 'node:fs';
import * as path from 'node:path';
import { tableFromIPC, type Table } from 'apache-arrow';
import { readParquet } from 'parquet-wasm';

/** The lake's layout: `<lake>/<pipeline>/<layer>/<partition>/part-*.parquet` (docs/architecture.md#engines). */
export type LakeLayer = 'batch' | 'stream' | 'merged';

export function partitionPath(lake: string, pipeline: string, layer: LakeLayer, partition: string): string {
  for (const [what, value] of [
    ['pipeline', pipeline],
    ['partition', partition],
  ] as const) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.=-]*$/.test(value)) {
      throw new Error(`${what} "${value}" is not a valid lake path segment (letters, digits, _ . = -)`);
    }
  }
  return path.join(lake, pipeline, layer, partition);
}

/**
 * The data files of a partition: only `part-*` Parquet files, never `_SUCCESS`, hidden files or
 * the in-progress files a streaming sink leaves behind.
 */
export function partFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of fs.readdirSync(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name.startsWith('_')) continue;
      const full = path.join(d, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.startsWith('part-') && entry.name.endsWith('.parquet')) out.push(full);
    }
  };
  walk(dir);
  return out.sort();
}

/** Reads a partition's Parquet files into one Arrow table (parquet-wasm, large record batches). */
export function readPartition(dir: string): Table {
  if (!fs.existsSync(path.join(dir, '_SUCCESS'))) {
    throw new Error(`${dir} is not a complete partition (no _SUCCESS marker)`);
  }
  const files = partFiles(dir);
  if (files.length === 0) throw new Error(`${dir} holds no part-*.parquet files`);
  const tables = files.map((f) =>
    tableFromIPC(readParquet(new Uint8Array(fs.readFileSync(f)), { batchSize: 65_536 }).intoIPCStream()),
  );
  return tables.length === 1 ? tables[0]! : tables[0]!.concat(...tables.slice(1));
}

/** Rows of an Arrow table as plain JSON-safe objects (bigint → number when safe, else string). */
export function tableRows(table: Table, limit = Infinity): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const row of table) {
    if (rows.length >= limit) break;
    const obj: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row.toJSON() as Record<string, unknown>)) obj[k] = jsonSafe(v);
    rows.push(obj);
  }
  return rows;
}

function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  return v;
}
