/**
 * Which web pages may open the WebSocket API. Browsers let any page open a WebSocket to any host
 * (loopback included) and send its cookies-free requests without asking; only the Origin header
 * tells the hub who is calling. A connection without an Origin (programs, the SDK in Node, other
 * hubs) or from the hub's own origin (its dashboard) is taken; a page from elsewhere only when
 * `allowOrigins` names its origin (or holds "*").
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allow: readonly string[]): boolean {
  if (origin === undefined) return true;
  if (allow.includes('*') || allow.includes(origin)) return true;
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, file:, about:blank) and anything unparsable
  }
}
