/**
 * Short copies between DataViews, four bytes at a time: DataView reads and writes compile to
 * plain loads and stores, where copying through TypedArray.set needs a view of the source, which
 * costs more to make than a short copy does.
 */
export function copyWords(src: DataView, from: number, dst: DataView, to: number, n: number): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) dst.setUint32(to + i, src.getUint32(from + i, true), true);
  for (; i < n; i++) dst.setUint8(to + i, src.getUint8(from + i));
}
