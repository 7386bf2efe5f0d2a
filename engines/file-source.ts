/**
 * The "files" source of an intake: a directory of log files (JSON lines or CSV) read line by line,
 * resumable from stored positions, through appends, rotation (rename, then a new file under the old
 * name) and truncation (copytruncate).
 *
 * Stateless on purpose: {@link readLines} is a pure function of (directory contents, positions in)
 * → (lines, positions out). The caller commits the positions out in the same Kafka transaction as
 * the records it made of the lines, so the stored positions and the topic always agree: after a
 * crash or an aborted transaction the next call starts just after the last committed line, and no
 * line is lost or doubled. Anything remembered here between calls could be ahead of that commit.
 *
 * Files are known by identity (`dev:ino`), not by name, so a rotated file is followed under its new
 * name; a hash of its first bytes tells a new file that reuses a deleted file's inode.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where reading one file stands, by file identity (see {@link fileId}). */
export interface FilePosition {
  /** The path the file had when last read (rotation renames it; identity does not change). */
  path: string;
  /** Bytes consumed: the offset just after the last complete line taken. */
  offset: number;
  /**
   * sha256 hex of the file's first min(size, 256) bytes when first seen (extended as it grows, see
   * `headBytes`): tells a new file that reuses a deleted file's inode.
   */
  head: string;
  /**
   * How many first bytes `head` covers: min(size, 256) when last read. A file first seen small has a
   * short head; it is extended (up to {@link HEAD_BYTES}) as the file grows and its first bytes
   * still match.
   * @default min(size, 256) of the file as it is now (for positions written without it)
   */
  headBytes?: number;
  /** CSV only: the file's header line (its first line), kept so later lines can be parsed. */
  header?: string;
  /**
   * The order in which files were first seen (0, 1, ...): a file seen earlier is read to its end
   * before any file seen later, whatever their modification times. A writer that renames its log
   * and writes a last line to it after the new file exists leaves the rotated file newer, or equally
   * old at the file system's clock resolution; its lines still come first.
   * @default before every file that has one (positions written without it)
   */
  seq?: number;
}

/** Positions by file identity `${dev}:${ino}`. */
export type FilePositions = Record<string, FilePosition>;

/** One complete line of a file. */
export interface SourceLine {
  fileId: string;
  path: string;
  /** Byte offset of the line's first byte in its file. */
  offset: number;
  /** The line without its terminator ("\n" or "\r\n"). */
  text: string;
  /** CSV only: the header of the line's file. */
  header?: string;
}

export interface ReadLinesOptions {
  dir: string;
  /** File names to read: a glob with `*` and `?` only (no path separators), e.g. "*.jsonl" or "app.log*". */
  pattern: string;
  positions: FilePositions;
  /** At most this many lines per call. */
  maxLines: number;
  /**
   * At most about this many bytes per call (a line is never split). Counts every byte consumed
   * (lines, their terminators, skipped empty lines, headers); one line longer than this is taken
   * alone, as the first of a call.
   * @default 8 MiB
   */
  maxBytes?: number;
  /** The first line of each file is a header (CSV): kept in the position, not returned as a line. */
  header?: boolean;
  /**
   * Bytes per positional read. Tests make it small to split lines and characters across reads.
   * @default 1 MiB
   */
  chunkBytes?: number;
}

export interface ReadLinesResult {
  lines: SourceLine[];
  /** The positions after exactly these lines (files no longer present are dropped). */
  positions: FilePositions;
  /** Bytes not yet read in matching files (complete or not): the source's lag. */
  lagBytes: number;
}

/** How many first bytes of a file its `head` hashes, at most. */
export const HEAD_BYTES = 256;
const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;
const DEFAULT_CHUNK_BYTES = 1024 * 1024;
/** Listings compared before trusting one that drops a known file (see listStable). */
const MAX_LISTINGS = 5;
const LF = 0x0a;
const CR = 0x0d;

/** The source's directory does not exist (or is not a directory): a wrong path, or not mounted yet. */
export class SourceDirNotFound extends Error {
  constructor(
    readonly dir: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`files source: directory "${dir}" ${reason}`, options);
    this.name = 'SourceDirNotFound';
  }
}

/** The identity of a file: `${dev}:${ino}` of fs.stat (bigint stat, as strings). */
export function fileId(stat: { dev: bigint | number; ino: bigint | number }): string {
  return `${String(stat.dev)}:${String(stat.ino)}`;
}

/**
 * Reads the next complete lines of the matching files of `opts.dir`, oldest file first, from
 * `opts.positions`, and returns them with the positions just after them.
 *
 * Keeps no state: call it again with the returned positions (once committed) for the next lines.
 * A trailing line without its "\n" is left for a later call; empty (whitespace-only) lines are
 * consumed but not returned. A file whose first bytes changed (inode reuse) or that is shorter than
 * its position (truncation) is read again from 0.
 *
 * @throws SourceDirNotFound when `opts.dir` does not exist or is not a directory.
 */
export async function readLines(opts: ReadLinesOptions): Promise<ReadLinesResult> {
  const maxLines = positiveInteger('maxLines', opts.maxLines);
  const maxBytes = positiveInteger('maxBytes', opts.maxBytes ?? DEFAULT_MAX_BYTES);
  const chunkBytes = positiveInteger('chunkBytes', opts.chunkBytes ?? DEFAULT_CHUNK_BYTES);
  const match = globMatcher(opts.pattern);
  for (const [id, pos] of Object.entries(opts.positions)) checkPosition(id, pos);

  const files = readingOrder(await listStable(opts.dir, match, opts.positions), opts.positions);
  let nextSeq = 1 + Math.max(-1, ...Object.values(opts.positions).map((p) => p.seq ?? -1));
  const lines: SourceLine[] = [];
  const positions: FilePositions = {};
  const sizes = new Map<string, number>();
  let consumed = 0;
  let stopped = false;

  for (const file of files) {
    const old = opts.positions[file.id];
    if (stopped || lines.length >= maxLines || consumed >= maxBytes) {
      // Not reached: keeps its old position (the caller has not got its next lines yet).
      stopped = true;
      if (old) positions[file.id] = { ...old };
      continue;
    }
    const read = await readFile(file, old, {
      header: opts.header === true,
      chunkBytes,
      take: (len) => consumed === 0 || consumed + len <= maxBytes,
      onConsume: (len) => (consumed += len),
      onLine: (line) => {
        lines.push(line);
        return lines.length < maxLines;
      },
    });
    if (read === 'moved') {
      // Renamed or replaced since the listing: stop here, so that no newer file is read before the
      // rest of this one; the next call lists again.
      stopped = true;
      if (old) positions[file.id] = { ...old };
      continue;
    }
    sizes.set(file.id, read.size);
    if (read.position) positions[file.id] = { ...read.position, seq: old?.seq ?? nextSeq++ };
    if (read.stopped) stopped = true;
  }

  let lagBytes = 0;
  for (const file of files) {
    const size = sizes.get(file.id) ?? file.size;
    const offset = positions[file.id]?.offset ?? 0;
    // A file not reached and shorter than its old position was truncated: all of it is to be read.
    lagBytes += size >= offset ? size - offset : size;
  }
  return { lines, positions, lagBytes };
}

/**
 * Known files first, in the order they were first seen (`seq`), then new ones oldest first: the
 * rest of a rotated file is read before the file that replaced it.
 */
function readingOrder(files: Listed[], known: FilePositions): Listed[] {
  const rank = (f: Listed) => (known[f.id] ? (known[f.id]!.seq ?? -1) : Number.MAX_SAFE_INTEGER);
  // Array.prototype.sort is stable: equal ranks (new files) keep the listing's mtime-then-name order.
  return [...files].sort((a, b) => rank(a) - rank(b));
}

/** One matching file as listed. */
interface Listed {
  id: string;
  name: string;
  path: string;
  size: number;
  mtimeNs: bigint;
}

/**
 * Lists `dir`, and lists it again while the listing drops a known file or names one file twice,
 * until two listings agree.
 *
 * Why: readdir and the stat of each name are not one snapshot. A rotation between them (app.log
 * renamed to app.log.1, a new app.log created) can make one listing miss the rotated file, and a
 * position dropped for a file that still exists means reading it all again from 0: every line of
 * it doubled in the topic. A file really deleted is missing from every listing; a hard link (one
 * file under two names) is listed the same way each time and read once.
 */
async function listStable(dir: string, match: (name: string) => boolean, known: FilePositions): Promise<Listed[]> {
  let listing = await list(dir, match);
  const suspicious = (files: Listed[]) => {
    const ids = new Set(files.map((f) => f.id));
    return ids.size < files.length || Object.keys(known).some((id) => !ids.has(id));
  };
  for (let n = 1; n < MAX_LISTINGS && suspicious(listing); n++) {
    const again = await list(dir, match);
    if (sameListing(listing, again)) break;
    listing = again;
  }
  // One file under two names (a hard link): read it once, under the name listed first.
  const byId = new Map<string, Listed>();
  for (const f of listing) if (!byId.has(f.id)) byId.set(f.id, f);
  return [...byId.values()];
}

function sameListing(a: Listed[], b: Listed[]): boolean {
  return a.length === b.length && a.every((f, i) => f.name === b[i].name && f.id === b[i].id);
}

/** The matching regular files of `dir` (not hidden, not recursive), oldest modification first, then by name. */
async function list(dir: string, match: (name: string) => boolean): Promise<Listed[]> {
  let entries: fs.Dirent[];
  try {
    entries = await fs.promises.readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SourceDirNotFound(dir, 'does not exist', { cause: err });
    if (code === 'ENOTDIR') throw new SourceDirNotFound(dir, 'is not a directory', { cause: err });
    throw new Error(`files source: cannot list directory "${dir}": ${(err as Error).message}`, { cause: err });
  }
  const files: Listed[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.') || !entry.isFile() || !match(entry.name)) continue;
    const p = path.join(dir, entry.name);
    let st: fs.BigIntStats;
    try {
      st = await fs.promises.stat(p, { bigint: true });
    } catch (err) {
      // Deleted or renamed since readdir: listStable lists again if it was a known file.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`files source: cannot stat "${p}": ${(err as Error).message}`, { cause: err });
    }
    if (!st.isFile()) continue;
    files.push({ id: fileId(st), name: entry.name, path: p, size: Number(st.size), mtimeNs: st.mtimeNs });
  }
  return files.sort((a, b) =>
    a.mtimeNs !== b.mtimeNs ? (a.mtimeNs < b.mtimeNs ? -1 : 1) : a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
}

interface ReadHooks {
  header: boolean;
  chunkBytes: number;
  /** True when `len` more bytes fit in the call's budget. */
  take: (len: number) => boolean;
  onConsume: (len: number) => void;
  /** Takes a line; false when the call has all the lines it may return. */
  onLine: (line: SourceLine) => boolean;
}

interface FileRead {
  /** The file's position after this call; absent while the file is empty. */
  position?: FilePosition;
  /** The size the file was read up to. */
  size: number;
  /** The call's budget ran out in this file. */
  stopped: boolean;
}

/** Reads the next lines of one file from its old position (or from 0), within the call's budget. */
async function readFile(file: Listed, old: FilePosition | undefined, hooks: ReadHooks): Promise<FileRead | 'moved'> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file.path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'moved';
    throw new Error(`files source: cannot open "${file.path}": ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = await fh.stat({ bigint: true });
    if (fileId(st) !== file.id) return 'moved';
    const statSize = Number(st.size);
    const firstBytes = await readAt(fh, 0, Math.min(statSize, HEAD_BYTES));
    // Read up to the size seen now (a writer may keep appending; the rest is for the next call). A
    // head read short of it means the file shrank meanwhile: never read past what is there.
    const size = firstBytes.length < Math.min(statSize, HEAD_BYTES) ? firstBytes.length : statSize;
    if (size === 0) return { size, stopped: false }; // still empty (or truncated to 0): no position yet

    const known = old !== undefined && sameFile(old, firstBytes, size);
    let start = 0;
    let header: string | undefined;
    if (known) {
      start = old.offset;
      header = hooks.header ? old.header : undefined;
    }
    // Otherwise a new file, one that reuses a deleted file's inode, or a truncated one: from 0, and
    // its header (CSV) read again.
    const position: FilePosition = {
      path: file.path,
      offset: start,
      // Over the first min(size, 256) bytes now. For a known file this extends a short head (when a
      // line is taken, below), only once its bytes are known to match: a file first seen holding one
      // 40-byte line would otherwise be told from a reused inode by those 40 bytes forever.
      head: sha256(firstBytes),
      headBytes: firstBytes.length,
    };
    if (header !== undefined) position.header = header;

    let stopped = false;
    for await (const line of scanLines(fh, start, size, hooks.chunkBytes)) {
      const len = line.next - line.offset;
      if (!hooks.take(len)) {
        stopped = true;
        break;
      }
      hooks.onConsume(len);
      position.offset = line.next;
      if (line.text.trim() === '') continue; // consumed, not returned
      if (hooks.header && position.header === undefined) {
        position.header = line.text;
        continue;
      }
      const taken: SourceLine = { fileId: file.id, path: file.path, offset: line.offset, text: line.text };
      if (position.header !== undefined) taken.header = position.header;
      if (!hooks.onLine(taken)) {
        stopped = true;
        break;
      }
    }
    if (known && position.offset === start) {
      // Nothing consumed: the head stays as it was, so that a call that reads nothing returns the
      // positions it was given (the caller commits only when they moved).
      position.head = old.head;
      if (old.headBytes === undefined) delete position.headBytes;
      else position.headBytes = old.headBytes;
    }
    return { position, size, stopped };
  } finally {
    await fh.close();
  }
}

/**
 * True when `firstBytes` (the file's first min(size, 256) bytes now) are the file `pos` was taken
 * of: same first bytes, and not shorter than its offset.
 */
function sameFile(pos: FilePosition, firstBytes: Buffer, size: number): boolean {
  // Truncated (copytruncate): shorter than what was consumed. A truncation followed by more bytes
  // than the old offset before this call is seen only by the head, below.
  if (size < pos.offset) return false;
  const covered = pos.headBytes ?? Math.min(size, HEAD_BYTES);
  // Shorter than its recorded head: bytes that were there are gone, so it was truncated.
  if (firstBytes.length < covered) return false;
  // Inode reuse: a deleted file's dev:ino given to a new file, whose first bytes differ.
  return sha256(firstBytes.subarray(0, covered)) === pos.head;
}

interface RawLine {
  /** Offset of the line's first byte. */
  offset: number;
  /** Offset just after its "\n". */
  next: number;
  /** Decoded, without "\n" or "\r\n" (and without a UTF-8 BOM at offset 0). */
  text: string;
}

/**
 * The complete lines of `fh` between `from` and `to`, read in chunks of `chunkBytes`. A line is
 * split on the byte 0x0A and decoded whole, so a multi-byte character across two chunks decodes
 * right (0x0A never occurs inside a UTF-8 multi-byte sequence).
 */
async function* scanLines(
  fh: fs.promises.FileHandle,
  from: number,
  to: number,
  chunkBytes: number,
): AsyncGenerator<RawLine> {
  const buf = Buffer.allocUnsafe(Math.max(1, Math.min(chunkBytes, to - from)));
  let pending: Buffer[] = []; // the current line's bytes from earlier chunks (copies: buf is reused)
  let lineStart = from;
  let pos = from;
  while (pos < to) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, to - pos), pos);
    if (bytesRead === 0) return; // shrank while read: the truncation is seen by the next call
    const chunk = buf.subarray(0, bytesRead);
    let at = 0;
    for (let nl = chunk.indexOf(LF, at); nl !== -1; nl = chunk.indexOf(LF, at)) {
      let bytes = pending.length ? Buffer.concat([...pending, chunk.subarray(at, nl)]) : chunk.subarray(at, nl);
      if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1);
      let text = bytes.toString('utf8');
      if (lineStart === 0 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      const next = pos + nl + 1;
      yield { offset: lineStart, next, text };
      pending = [];
      lineStart = next;
      at = nl + 1;
    }
    // A partial line: kept until its "\n" arrives; at `to` it is left unread for a later call, and
    // the offset stays at its first byte. (Held whole in memory, as the line will be when taken.)
    if (at < bytesRead) pending.push(Buffer.from(chunk.subarray(at)));
    pos += bytesRead;
  }
}

/** Reads up to `len` bytes at `position` (fewer only at the end of the file). */
async function readAt(fh: fs.promises.FileHandle, position: number, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len);
  let filled = 0;
  while (filled < len) {
    const { bytesRead } = await fh.read(buf, filled, len - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buf.subarray(0, filled);
}

function sha256(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** A matcher of file names for a glob with `*` (any run of characters) and `?` (one character). */
function globMatcher(pattern: string): (name: string) => boolean {
  if (typeof pattern !== 'string' || pattern === '' || /[/\\]/.test(pattern)) {
    throw new TypeError(
      `pattern: expected a file name glob with * and ? such as "*.jsonl", without path separators, got ${JSON.stringify(pattern)}`,
    );
  }
  const source = [...pattern]
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
    .join('');
  const re = new RegExp(`^${source}$`, 'su');
  return (name) => re.test(name);
}

function positiveInteger(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${field}: expected an integer >= 1, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Positions come from storage: one that does not have the shape written here is refused, by field. */
function checkPosition(id: string, pos: FilePosition): void {
  const at = `positions[${JSON.stringify(id)}]`;
  if (typeof pos !== 'object' || pos === null) throw new TypeError(`${at}: expected an object, got ${String(pos)}`);
  if (!Number.isSafeInteger(pos.offset) || pos.offset < 0) {
    throw new RangeError(`${at}.offset: expected an integer >= 0, got ${JSON.stringify(pos.offset)}`);
  }
  if (typeof pos.head !== 'string')
    throw new TypeError(`${at}.head: expected a sha256 hex string, got ${typeof pos.head}`);
  if (
    pos.headBytes !== undefined &&
    (!Number.isSafeInteger(pos.headBytes) || pos.headBytes < 1 || pos.headBytes > HEAD_BYTES)
  ) {
    throw new RangeError(
      `${at}.headBytes: expected an integer from 1 to ${HEAD_BYTES}, got ${JSON.stringify(pos.headBytes)}`,
    );
  }
  if (pos.seq !== undefined && (!Number.isSafeInteger(pos.seq) || pos.seq < 0)) {
    throw new RangeError(`${at}.seq: expected an integer >= 0, got ${JSON.stringify(pos.seq)}`);
  }
}
