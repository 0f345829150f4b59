/** Valid ICCP messages of both directions, the seeds the ICCP fuzz targets mutate frame by frame. */
import { encodeError, encodeFinished, encodeOk, encodeReady, encodeRequest, encodeStop } from '../../../src/faces/iccp/codec.js';
import { toConfigProto } from '../../../src/faces/iccp/config-map.js';

const UID = Buffer.from('6f1e2d3c4b5a11ee8c900242ac120002', 'hex');

export const ICCP_SEEDS: readonly (readonly Buffer[])[] = [
  encodeReady({ uid: UID, pid: 4242, host: 'fuzz-node' }, { data: ['tcp://127.0.0.1:6001'], log: [] }),
  encodeReady({ uid: UID, pid: 1, host: 'h' }, {}),
  encodeOk(),
  encodeError('Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad'),
  encodeFinished('OK'),
  encodeFinished('ERROR', ['detail one', 'detail two']),
  encodeRequest(toConfigProto({ port: 5432, ratio: 0.5, name: 'x', on: true, db: { pool: 4 }, blob: { $bytes: 'AAE=' } })),
  encodeStop(),
];

/** The READY a socket case sends first when it wants a member on the endpoint. */
export const READY = ICCP_SEEDS[1]!;
