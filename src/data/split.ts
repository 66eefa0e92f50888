// A seeded, stratified split of one set of samples into training and validation: per class, a
// seeded shuffle, round(count * valFraction) of them to validation, at least one left for training.
// The order within each part is the input's order.

import { Rng } from './rng.js';

export function stratifiedSplit<T extends { label: number }>(items: readonly T[], valFraction: number, seed: number): { train: T[]; val: T[] } {
  const rng = new Rng(seed);
  const byClass = new Map<number, number[]>();
  items.forEach((item, i) => byClass.set(item.label, [...(byClass.get(item.label) ?? []), i]));
  const toVal = new Set<number>();
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = rng.shuffle([...byClass.get(label)!]);
    const count = Math.min(Math.round(members.length * valFraction), members.length - 1);
    for (const i of members.slice(0, Math.max(count, 0))) toVal.add(i);
  }
  return { train: items.filter((_, i) => !toVal.has(i)), val: items.filter((_, i) => toVal.has(i)) };
}
