/**
 * Every fuzz target. A new face is one more file here: a codec target for its pure decoder and
 * a socket target for the face itself (see README.md in this folder), and one line in this list.
 */
import busAnswers from './bus-answers.js';
import churn from './churn.js';
import codecBusBinary from './codec-bus-binary.js';
import codecJsonRpc from './codec-jsonrpc.js';
import codecPlantimager from './codec-plantimager.js';
import codecIccp from './codec-iccp.js';
import iccp from './iccp.js';
import co2 from './co2.js';
import co2Face from './co2-face.js';
import codecRsb from './codec-rsb.js';
import http from './http.js';
import plantimager from './plantimager.js';
import rsb from './rsb.js';
import sse from './sse.js';
import wsBinary from './ws-binary.js';
import wsJsonRpc from './ws-jsonrpc.js';
import type { FuzzTarget } from '../types.js';

export const TARGETS: readonly FuzzTarget[] = [
  codecJsonRpc,
  codecBusBinary,
  codecPlantimager,
  co2, co2Face,
  codecRsb,
  wsJsonRpc,
  wsBinary,
  busAnswers,
  http,
  sse,
  plantimager,
  codecIccp, iccp,
  rsb,
  churn,
];
