/**
 * Per tag of an exclusive category (null for other tags), per row: 1 where the tag scores highest
 * of its category (ties to the tag listed first). A customer holds at most one tag of such a
 * category, so only the model's best pick of it is ever suggested — even when a less likely tag
 * of the category clears its own threshold — and held-out precision is measured by the same rule.
 *
 * @param probabilities rows × tags, row-major
 * @param exclusive per tag, its exclusive category, or null
 */
export function exclusiveWins(
  probabilities: Float32Array,
  exclusive: readonly (string | null)[],
): (Uint8Array | null)[] {
  const t = exclusive.length;
  const rows = probabilities.length / t;
  return exclusive.map((group, j) => {
    if (group === null) return null;
    const rivals = exclusive.flatMap((g, k) => (k !== j && g === group ? [k] : []));
    const wins = new Uint8Array(rows);
    for (let i = 0; i < rows; i++) {
      const own = probabilities[i * t + j]!;
      wins[i] = rivals.every((k) => {
        const other = probabilities[i * t + k]!;
        return other < own || (other === own && j < k);
      })
        ? 1
        : 0;
    }
    return wins;
  });
}
