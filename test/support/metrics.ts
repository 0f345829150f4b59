/** Reading a hub's /metrics (Prometheus text) as a test or a bench sees it. */

/** A counter or gauge without labels; NaN when the hub does not show it. */
export async function metricValues(url: string, names: readonly string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const name of names) out[name] = Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return out;
}

/** The embedded store's muster_store_* counters (group commit: changes per commit and per sync). */
export async function storeFigures(url: string): Promise<{ changes: number; commits: number; syncs: number; checkpoints: number }> {
  const v = await metricValues(url, ['muster_store_changes_total', 'muster_store_commits_total', 'muster_store_syncs_total', 'muster_store_checkpoints_total']);
  return { changes: v.muster_store_changes_total!, commits: v.muster_store_commits_total!, syncs: v.muster_store_syncs_total!, checkpoints: v.muster_store_checkpoints_total! };
}
