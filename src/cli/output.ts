/**
 * The CLI's stdout. Text goes out with control characters escaped (formatters escape each value so
 * columns line up and a value cannot fake a line; this is the net for anything they missed), JSON
 * stays valid JSON. When the reader goes away (`muster ls | head -1`) the command ends quietly with
 * status 0, as if all had been read, so `set -o pipefail` scripts do not fail on a `head`.
 */
import { jsonText, visible } from './visible.js';

const closing = new AbortController();
/** Aborted when stdout's reader has gone; streaming commands (watch, sub) stop on it. */
export const stdoutClosed: AbortSignal = closing.signal;

/** Writes lines built by the formatters; newlines are kept, every other control character escaped. */
export function print(text: string): void {
  if (stdoutClosed.aborted) return;
  process.stdout.write(text.split('\n').map(visible).join('\n'));
}

/** One JSON value on a line of its own. */
export function printJson(value: unknown): void {
  if (stdoutClosed.aborted) return;
  process.stdout.write(jsonText(value) + '\n');
}

/** Writes a line to stderr, escaped like stdout. */
export function warn(text: string): void {
  process.stderr.write(visible(text) + '\n');
}

/** EPIPE on stdout ends output quietly instead of crashing with a stack trace; other write errors exit 1. */
export function handleClosedOutput(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || stdoutClosed.aborted) {
      closing.abort();
      return;
    }
    warn(`muster: cannot write output: ${err.message}`);
    process.exit(1);
  });
  // Nowhere left to report a failure to write stderr.
  process.stderr.on('error', () => {});
}
