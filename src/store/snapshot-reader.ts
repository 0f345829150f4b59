/**
 * Reads a snapshot file and checks all of it: gzip, the header (format, version), every line's
 * shape, the order (header, members, events, trailer), the counts and the hash. Anything wrong is
 * SNAPSHOT_INVALID with a `reason` (not-a-snapshot, newer-version, truncated, corrupt, checksum,
 * counts, too-long-line). Lines are read one at a time (each capped), handed to `visit` in pages.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { MusterError } from '../errors.js';
import { MAX_LINE_BYTES, PAGE_SIZE, SNAPSHOT_FORMAT, SNAPSHOT_VERSION, SnapshotEvent, SnapshotHeader, SnapshotMember, SnapshotTrailer, type SnapshotHeader as Header } from './snapshot-format.js';
import type { StoredEvent, StoredMember } from './store.js';

export type SnapshotProblem = 'not-a-snapshot' | 'newer-version' | 'truncated' | 'corrupt' | 'checksum' | 'counts' | 'too-long-line';

export interface SnapshotVisitor {
  members?(page: StoredMember[]): void | Promise<void>;
  events?(page: StoredEvent[]): void | Promise<void>;
}

export interface SnapshotSummary {
  header: Header;
  members: number;
  events: number;
  sha256: string;
  /** Compressed bytes of the file. */
  bytes: number;
}

const checks = new Map<TSchema, TypeCheck<TSchema>>();
function matches(schema: TSchema, value: unknown): boolean {
  let c = checks.get(schema);
  if (!c) checks.set(schema, (c = TypeCompiler.Compile(schema)));
  return c.Check(value);
}

function invalid(reason: SnapshotProblem, message: string, line?: number): MusterError {
  return new MusterError('SNAPSHOT_INVALID', line === undefined ? message : `line ${line}: ${message}`, line === undefined ? { reason } : { reason, line });
}

/** The file's lines, each at most MAX_LINE_BYTES; gzip errors as SNAPSHOT_INVALID. */
async function* lines(path: string, size: { bytes: number }): AsyncGenerator<Buffer> {
  const file = createReadStream(path);
  file.on('data', (c) => { size.bytes += c.length; });
  const gunzip = file.pipe(createGunzip());
  file.on('error', (err) => gunzip.destroy(err));
  let rest: Buffer[] = [];
  let restBytes = 0;
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
        if (restBytes + nl - start > MAX_LINE_BYTES) throw invalid('too-long-line', `a line is longer than ${MAX_LINE_BYTES} bytes`);
        const part = chunk.subarray(start, nl);
        yield rest.length ? Buffer.concat([...rest, part]) : part;
        rest = [];
        restBytes = 0;
        start = nl + 1;
      }
      if (start < chunk.length) {
        rest.push(chunk.subarray(start));
        restBytes += chunk.length - start;
        if (restBytes > MAX_LINE_BYTES) throw invalid('too-long-line', `a line is longer than ${MAX_LINE_BYTES} bytes`);
      }
    }
  } catch (err) {
    if (err instanceof MusterError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') throw new MusterError('INVALID_PARAMS', `Cannot read ${path}: ${e.code}`);
    if (e.code === 'Z_BUF_ERROR' || /unexpected end/i.test(e.message)) throw invalid('truncated', 'the file ends before its end (cut short?)');
    if (size.bytes <= 2 || /header check/i.test(e.message)) throw invalid('not-a-snapshot', 'the file is not gzip: not a muster snapshot');
    throw invalid('corrupt', `the file is damaged (${e.message})`);
  } finally {
    file.destroy();
  }
  if (restBytes > 0) yield Buffer.concat(rest);
}

function parse(line: Buffer, n: number): unknown {
  try {
    return JSON.parse(line.toString('utf8'));
  } catch {
    throw invalid(n === 1 ? 'not-a-snapshot' : 'corrupt', 'not JSON', n);
  }
}

/** Reads and checks the whole file; `visit` sees its members and events in pages as they come. */
export async function readSnapshot(path: string, visit: SnapshotVisitor = {}): Promise<SnapshotSummary> {
  const size = { bytes: 0 };
  const hash = createHash('sha256');
  let header: Header | undefined;
  let members: StoredMember[] = [];
  let events: StoredEvent[] = [];
  let counted = { members: 0, events: 0 };
  let end: { members: number; events: number; sha256: string } | undefined;
  let n = 0;
  for await (const line of lines(path, size)) {
    n++;
    if (end) throw invalid('corrupt', 'more lines after the trailer', n);
    const value = parse(line, n);
    if (!header) {
      const h = value as Partial<Header> | null;
      if (typeof h !== 'object' || h === null || h.format !== SNAPSHOT_FORMAT) throw invalid('not-a-snapshot', 'the first line is not a muster snapshot header', n);
      if (typeof h.version === 'number' && h.version > SNAPSHOT_VERSION) {
        throw invalid('newer-version', `the snapshot is format version ${h.version}; this muster reads version ${SNAPSHOT_VERSION} (upgrade muster to read it)`, n);
      }
      if (!matches(SnapshotHeader, value) || h.version !== SNAPSHOT_VERSION) throw invalid('corrupt', 'the header is not a valid snapshot header', n);
      header = value as Header;
    } else if (typeof value === 'object' && value !== null && 'm' in value) {
      const m = (value as { m: unknown }).m;
      if (counted.events > 0 || !matches(SnapshotMember, m)) throw invalid('corrupt', 'not a valid member line', n);
      members.push(m as StoredMember);
      counted.members++;
      if (members.length >= PAGE_SIZE) { await visit.members?.(members); members = []; }
    } else if (typeof value === 'object' && value !== null && 'e' in value) {
      const e = (value as { e: unknown }).e;
      if (!matches(SnapshotEvent, e)) throw invalid('corrupt', 'not a valid event line', n);
      if (members.length) { await visit.members?.(members); members = []; }
      events.push(e as StoredEvent);
      counted.events++;
      if (events.length >= PAGE_SIZE) { await visit.events?.(events); events = []; }
    } else if (matches(SnapshotTrailer, value)) {
      end = value as typeof end;
      continue;
    } else {
      throw invalid('corrupt', 'a line that is neither a member, an event nor the trailer', n);
    }
    hash.update(line);
    hash.update('\n');
  }
  if (!header) throw invalid('not-a-snapshot', 'the file is empty');
  if (!end) throw invalid('truncated', `the file has no trailer (cut short after ${n} lines?)`);
  const sha256 = hash.digest('hex');
  if (sha256 !== end.sha256) throw invalid('checksum', 'the lines do not match the checksum in the trailer (the file was changed)');
  if (end.members !== counted.members || end.events !== counted.events || header.members !== counted.members || header.events !== counted.events) {
    throw invalid('counts', `the file holds ${counted.members} members and ${counted.events} events; its header says ${header.members} and ${header.events}, its trailer ${end.members} and ${end.events}`);
  }
  if (members.length) await visit.members?.(members);
  if (events.length) await visit.events?.(events);
  return { header, members: counted.members, events: counted.events, sha256, bytes: size.bytes };
}
