/**
 * The bus's seam to the connection (internal, not exported): binary frames of the bus binary
 * format both ways on whichever connection is current, and what the bus needs to pace itself.
 */
import type { MusterClientError } from './errors.js';

/** What the client hands the bus from the hub. */
export interface FrameSink {
  frame(frame: Uint8Array): void;
  /** An error the hub could not tie to a request (a frame it refused whole: PAYLOAD_TOO_LARGE). */
  orphanError(err: MusterClientError): void;
}

export interface FrameChannel {
  /** Connected and not resuming: a frame sent now reaches the hub on the current connection. */
  readonly connected: boolean;
  /** The client is closed for good. */
  readonly closed: boolean;
  /** Bytes the socket has not written to the network yet. */
  readonly bufferedAmount: number;
  /** Sends a frame on the current connection; false (not sent) when not connected. */
  send(frame: Uint8Array): boolean;
  /** Resolves once connected; waits out a reconnect up to the request timeout; rejects once closed. */
  ready(): Promise<void>;
  /** Resolves once the hub has answered a call sent after every frame sent so far (so it has read them). */
  roundTrip(): Promise<void>;
}
