/**
 * How much the old generation grows while `churn` runs, after `setup`'s objects were made old
 * (two full collections, as on a hub that has run a while) and with a young collection every
 * 1,000 steps: what a long-lived table keeps alive past its entries' use.
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!.space_used_size;

export function oldGenerationGrowth(steps: number, churn: (i: number) => void): number {
  gc();
  gc();
  const before = oldSpace();
  for (let i = 0; i < steps; i++) {
    churn(i);
    if (i % 1_000 === 999) gc({ type: 'minor' });
  }
  return oldSpace() - before;
}
