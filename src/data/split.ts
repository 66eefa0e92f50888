// A seeded, stratified train/validation split of one labelled list (for `train --val-split` and the
// page's split): per class, the items are shuffled with the seed (src/data/rng.ts) and
// round(count * valFraction) of them go to validation, at least one stays in training (and at least
// one goes to validation). The classes are shuffled in label order from one stream of the seed; the
// order of the input is kept within each side. No Node APIs: the browser page splits the same way.

import { Rng } from './rng.js';

export function stratifiedSplit<T extends { label: number }>(items: readonly T[], valFraction: number, seed: number): { train: T[]; val: T[] } {
  if (!(valFraction > 0 && valFraction < 1)) throw new Error(`the validation fraction must be between 0 and 1 (exclusive), not ${valFraction}`);
  const byClass = new Map<number, number[]>();
  items.forEach((item, i) => {
    const indices = byClass.get(item.label) ?? [];
    indices.push(i);
    byClass.set(item.label, indices);
  });
  const rng = new Rng(seed);
  const toVal = new Set<number>();
  for (const [label, indices] of [...byClass].sort((a, b) => a[0] - b[0])) {
    const count = Math.round(indices.length * valFraction);
    if (count < 1 || count > indices.length - 1) {
      throw new Error(`class ${label} has ${indices.length} image${indices.length === 1 ? '' : 's'}: too few to put ${(valFraction * 100).toFixed(0)}% in validation and keep at least one for training (add images or change the fraction)`);
    }
    const shuffled = rng.shuffle([...indices]);
    for (const i of shuffled.slice(0, count)) toVal.add(i);
  }
  return { train: items.filter((_, i) => !toVal.has(i)), val: items.filter((_, i) => toVal.has(i)) };
}
