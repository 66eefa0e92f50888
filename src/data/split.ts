// A seeded, stratified train/validation split of one labelled list (for `train --val-split` and the
// page's split): per class, the items are shuffled with the seed (src/data/rng.ts) and
// round(count * valFraction) of them go to validation, at least one stays in training (and at least
// one goes to validation). The classes are shuffled in label order from one stream of the seed; the
// order of the input is kept within each side. No Node APIs: the browser page splits the same way.
// `train --val-split` splits one ImageFolder so and keeps the listing in the run folder (split.csv).

import type { ImageFolder, Sample } from './dataset.js';
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
      throw new Error(
        `class ${label} has ${indices.length} image${indices.length === 1 ? '' : 's'}: too few to put ${(valFraction * 100).toFixed(0)}% in validation and keep at least one for training (add images or change the fraction)`,
      );
    }
    const shuffled = rng.shuffle([...indices]);
    for (const i of shuffled.slice(0, count)) toVal.add(i);
  }
  return { train: items.filter((_, i) => !toVal.has(i)), val: items.filter((_, i) => toVal.has(i)) };
}

/** An ImageFolder split into training and validation folders (same root and classes). */
export function splitFolder(folder: ImageFolder, valFraction: number, seed: number): { train: ImageFolder; val: ImageFolder } {
  let split: { train: Sample[]; val: Sample[] };
  try {
    split = stratifiedSplit(folder.samples, valFraction, seed);
  } catch (e) {
    const message = (e as Error).message.replace(/^class (\d+)/, (_, k: string) => `class '${folder.classes[Number(k)]}'`);
    throw new Error(`--val-split ${valFraction}: ${folder.root}: ${message}`);
  }
  const { train, val } = split;
  return { train: { ...folder, samples: train }, val: { ...folder, samples: val } };
}

/** The split as a run folder keeps it: `file,class,set` (set: train or val), one line per image. */
export function splitCsv(train: ImageFolder, val: ImageFolder): string {
  const field = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const rows = [...train.samples.map((s) => [s.file, train.classes[s.label], 'train']), ...val.samples.map((s) => [s.file, val.classes[s.label], 'val'])];
  return `${['file,class,set', ...rows.map((r) => r.map(field).join(','))].join('\n')}\n`;
}

export interface SplitRow {
  file: string;
  class: string;
  set: 'train' | 'val';
}

/** split.csv read back (quoted fields as splitCsv writes them); `source` names the file in errors. */
export function parseSplitCsv(text: string, source: string): SplitRow[] {
  const lines = text.split('\n').filter((l) => l.length > 0);
  if (lines[0] !== 'file,class,set') throw new Error(`${source} is not a split listing (its first line is not 'file,class,set')`);
  return lines.slice(1).map((line, i) => {
    const fields = [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)]
      .slice(0, 3)
      .map((m) => (m[1].startsWith('"') ? m[1].slice(1, -1).replace(/""/g, '"') : m[1]));
    const [file, name, set] = fields;
    if (fields.length !== 3 || (set !== 'train' && set !== 'val')) throw new Error(`${source}, line ${i + 2}: expected file,class,train|val, got '${line}'`);
    return { file, class: name, set };
  });
}
