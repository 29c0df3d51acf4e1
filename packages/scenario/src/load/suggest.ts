/**
 * "Did you mean …?": the known words closest to a misspelt one (an operation, an option, a name).
 *
 * @module
 */

/** Levenshtein distance between two words. */
function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0] ?? 0;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j] ?? 0;
      d[j] = Math.min((d[j] ?? 0) + 1, (d[j - 1] ?? 0) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length] ?? 0;
}

/**
 * ` (did you mean a, b?)` with up to three of `options` close to `word`, or `""` when none is.
 *
 * **Kernel:** none. **Locking:** none.
 */
export function suggest(word: string, options: Iterable<string>): string {
  const close = [...options]
    .map((o) => ({ o, d: distance(word, o) }))
    .filter((x) => x.d <= Math.max(2, Math.floor(word.length / 3)))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map((x) => x.o);
  return close.length ? ` (did you mean ${close.join(", ")}?)` : "";
}
