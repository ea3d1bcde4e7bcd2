// The known name closest to a mistyped one, for "unknown field 'ffnActivaton': did you mean 'ffnActivation'?".

/** Levenshtein distance: insertions, deletions and substitutions, each costing one. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = row;
  }
  return previous[b.length];
}

/** The nearest of `known` to `name` when it is close enough to be a typo (a third of its length), else undefined. */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  const scored = known.map((k) => ({ k, d: distance(name.toLowerCase(), k.toLowerCase()) })).sort((x, y) => x.d - y.d);
  return scored.length > 0 && scored[0].d <= Math.max(2, Math.floor(name.length / 3)) ? scored[0].k : undefined;
}

/** `unknown field 'x'; did you mean 'y'? The fields are ...` */
export function unknownField(name: string, known: readonly string[]): string {
  const near = nearestName(name, known);
  return `unknown field '${name.length > 60 ? name.slice(0, 60) + '...' : name}'${near ? `: did you mean '${near}'?` : ''} (the fields are ${known.join(', ')})`;
}
