// The stratified split behind `train --val-split`: per class round(count * fraction) to validation,
// the same split for the same seed, another for another seed, every item on exactly one side; the
// run folder's split.csv read back as written.

import { describe, expect, it } from 'vitest';
import { parseSplitCsv, splitCsv, splitFolder, stratifiedSplit } from '../src/data/split.js';

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

describe('split.csv', () => {
  it('reads back what it wrote, with commas and quotes in names', () => {
    const folder = { root: 'data', classes: ['be,nign', 'mal"ignant'], samples: [0, 0, 0, 1, 1, 1].map((label, i) => ({ file: `data/${i},"x".png`, label })) };
    const { train, val } = splitFolder(folder, 1 / 3, 4);
    const rows = parseSplitCsv(splitCsv(train, val), 'split.csv');
    expect(rows).toEqual([
      ...train.samples.map((s) => ({ file: s.file, class: folder.classes[s.label], set: 'train' })),
      ...val.samples.map((s) => ({ file: s.file, class: folder.classes[s.label], set: 'val' })),
    ]);
    expect(rows.filter((r) => r.set === 'val')).toHaveLength(2);
  });

  it('names the file and line of a row it cannot read', () => {
    expect(() => parseSplitCsv('file,class,set\na.png,0,test\n', 'runs/exp1/split.csv')).toThrow(
      "runs/exp1/split.csv, line 2: expected file,class,train|val, got 'a.png,0,test'",
    );
    expect(() => parseSplitCsv('a,b\n', 'x.csv')).toThrow('x.csv is not a split listing');
  });

  it('names the folder and the class that is too small', () => {
    expect(() =>
      splitFolder({ root: 'data', classes: ['big', 'tiny'], samples: [0, 0, 0, 0, 1].map((label, i) => ({ file: `${i}.png`, label })) }, 0.25, 0),
    ).toThrow("--val-split 0.25: data: class 'tiny' has 1 image: too few");
  });
});
