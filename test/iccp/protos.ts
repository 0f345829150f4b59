/** Python modules of the ICCP .proto files (protoc --python_out), made once per test process in a temp folder. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requirePrerequisites, systemPython } from '../support/prerequisites.js';

export const PYTHON = systemPython('zmq', 'protobuf');
export const PROTO_DIR = new URL('../../src/faces/iccp/proto/', import.meta.url).pathname;

let dir: string | null = null;

/** The folder holding config_pb2.py and peer_pb2.py. */
export function pythonProtos(): string {
  if (dir) return dir;
  requirePrerequisites('protoc');
  const out = mkdtempSync(join(tmpdir(), 'muster-iccp-py-'));
  execFileSync('protoc', [`--python_out=${out}`, '-I', PROTO_DIR, join(PROTO_DIR, 'config.proto'), join(PROTO_DIR, 'peer.proto')]);
  dir = out;
  return out;
}

/** Reference frames from test/iccp/frames.py, by name. */
export function referenceFrames(): Record<string, Buffer[]> {
  const json = execFileSync(PYTHON, [new URL('./frames.py', import.meta.url).pathname, pythonProtos()], { encoding: 'utf8', timeout: 20_000 });
  const parsed = JSON.parse(json) as Record<string, string[]>;
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v.map((h) => Buffer.from(h, 'hex'))]));
}
