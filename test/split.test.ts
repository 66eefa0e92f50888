// The stratified split behind `train --val-split`: per class round(count * fraction) to validation,
// the same split for the same seed, another for another seed, every item on exactly one side.

import { describe, expect, it } from 'vitest';
import { stratifiedSplit } from '../src/data/split.js';

const items = (counts: number[]) => counts.flatMap((n, label) => Array.from({ length: n }, (_, i) => ({ file: `${label}/${i}.png`, label })));

describe('stratifiedSplit', () => {
  it('puts round(count * fraction) of each class in validation, the rest in training, each item once', () => {
    const all = items([37, 230, 5]);
    const { train, val } = stratifiedSplit(all, 0.2, 0);
    const count = (list: { label: number }[], label: number) => list.filter((s) => s.label === label).length;
    expect([0, 1, 2].map((k) => count(val, k))).toEqual([7, 46, 1]);
    expect([0, 1, 2].map((k) => count(train, k))).toEqual([30, 184, 4]);
    expect([...train, ...val].map((s) => s.file).sort()).toEqual(all.map((s) => s.file).sort());
    // input order kept on each side
    expect(train.map((s) => all.indexOf(s))).toEqual([...train.map((s) => all.indexOf(s))].sort((a, b) => a - b));
  });

  it('depends on the seed alone', () => {
    const all = items([20, 30]);
    const a = stratifiedSplit(all, 0.25, 7).val.map((s) => s.file);
    expect(stratifiedSplit(all, 0.25, 7).val.map((s) => s.file)).toEqual(a);
    expect(stratifiedSplit(all, 0.25, 8).val.map((s) => s.file)).not.toEqual(a);
    // not simply the first items of each class
    expect(a).not.toEqual([...items([5]).map((s) => s.file), ...Array.from({ length: 8 }, (_, i) => `1/${i}.png`)]);
  });

  it('refuses a class too small to give validation one item and keep one for training', () => {
    expect(() => stratifiedSplit(items([10, 2]), 0.2, 0)).toThrow(/class 1 has 2 images: too few/);
    expect(() => stratifiedSplit(items([10, 1]), 0.5, 0)).toThrow(/class 1 has 1 image: too few/);
    expect(() => stratifiedSplit(items([10, 10]), 1, 0)).toThrow(/between 0 and 1/);
  });
});
