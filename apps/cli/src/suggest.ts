import { UsageError } from "./io";

/**
 * The edit distance of `a` and `b` counting an insertion, a deletion, a substitution or a swap of
 * two neighbours as one edit (optimal string alignment), so that `4.91` is one edit from `4.19`.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row: number[] = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const up = rows[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(up[j]! + 1, row[j - 1]! + 1, up[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      }
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/**
 * ` (did you mean a, b?)` for the names of `options` close to `word` (edit distance at most a third
 * of the word, and at least 1; or the word is the start of the name, as `x86` of `x86-64`), or ""
 * when none is.
 */
export function didYouMean(word: string, options: Iterable<string>): string {
  const w = word.toLowerCase();
  const limit = Math.max(1, Math.floor(word.length / 3));
  const close = [...options]
    .map((o) => {
      const l = o.toLowerCase();
      return { o, d: w.length >= 2 && l.startsWith(w) ? 0.5 : editDistance(w, l) };
    })
    .filter((x) => x.d <= limit && x.o !== word)
    .sort((a, b) => a.d - b.d || (a.o < b.o ? -1 : 1))
    .slice(0, 3)
    .map((x) => x.o);
  return close.length > 0 ? ` (did you mean ${close.join(", ")}?)` : "";
}

/**
 * Check that `value` of `flag` is one of `known`; a usage error names the closest ones and lists
 * them all.
 *
 * @throws {@link UsageError} for a value not in `known`
 */
export function oneOf(flag: string, what: string, value: string, known: readonly string[]): string {
  if (known.includes(value)) {
    return value;
  }
  throw new UsageError(
    `${flag} ${value}: unknown ${what}${didYouMean(value, known)}; known: ${known.join(", ")}`,
  );
}
