/** A message the bus delivers to the SDK. */
export type MessageKind = 'publish' | 'broadcast' | 'send';

export interface BusMessage {
  kind: MessageKind;
  from: string;
  /** The scope a publish was made on (normalized: `/a/b/`). */
  scope?: string;
  /** The receiver of a `send`. */
  to?: string;
  /** The sender's sequence number. */
  seq: number;
  /** Microseconds since the epoch: made, sent by the sender's SDK, received by the hub, delivered here. */
  created: number;
  sent: number;
  received: number;
  delivered: number;
  /** A JSON value, or a Uint8Array for bytes (a view into the frame it arrived in). */
  data: unknown;
}
