/**
 * A loopback port that was free a moment ago, for a server a test must start on a port it knows
 * beforehand (a redis-server, a hub restarted on the same port). Between the check and the
 * server's listen another process could take it: with two test files at a time, a port the kernel
 * handed out (`listen(0)`) was also one it hands out for every outgoing connection. So the port is
 * picked at random below the kernel's ephemeral range, where no outgoing connection and no
 * `listen(0)` lands; two test files at once seldom pick the same one.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Ports picked from: the span just below the ephemeral range (Linux: 32768-60999). */
const SPAN = 12_000;

function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(low) && low > 1024 + 1000) return low;
  } catch {
    // not Linux: the IANA range starts at 49152
  }
  return 49_152;
}

const HIGH = ephemeralStart();
const LOW = Math.max(1025, HIGH - SPAN);

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port in ${LOW}-${HIGH - 1} after 100 tries`);
}
