/** Property-test input: a seed text with a few pieces spliced in (each edit may cut a few characters). */
import fc from 'fast-check';

/** One of `seeds` with up to 4 edits, each inserting one of `pieces` (or 0-3 random characters) and cutting up to 3. */
export function mutatedText(seeds: readonly string[], pieces: readonly string[]): fc.Arbitrary<string> {
  return fc.tuple(
    fc.nat({ max: seeds.length - 1 }),
    fc.array(fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 3 })), fc.nat({ max: 3 })), { maxLength: 4 }),
  ).map(([seed, edits]) => {
    let text = seeds[seed]!;
    for (const [at, piece, cut] of edits) {
      const i = at % (text.length + 1);
      text = text.slice(0, i) + piece + text.slice(i + cut);
    }
    return text;
  });
}
