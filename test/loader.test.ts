// The data loader: epoch orders (shuffled, balanced) from the seed alone, and the same batches from
// worker threads as from the main thread.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Sample } from '../src/data/folder.js';
import { DataLoader } from '../src/data/loader.js';

const samples = (counts: number[]): Sample[] => counts.flatMap((n, label) => Array.from({ length: n }, (_, i) => ({ file: `${label}/${i}.png`, label })));

describe('epoch order', () => {
  const loader = new DataLoader({ imgSize: 8, workers: 0, seed: 3 });

  it('is a permutation that depends only on the seed and the epoch', () => {
    const s = samples([10, 90]);
    const order = loader.order(s, 0, true);
    expect([...order].sort((a, b) => a - b)).toEqual(s.map((_, i) => i));
    expect(new DataLoader({ imgSize: 8, workers: 0, seed: 3 }).order(s, 0, true)).toEqual(order);
    expect(loader.order(s, 1, true)).not.toEqual(order);
    expect(loader.order(s, 0, false)).toEqual(s.map((_, i) => i));
  });

  it('balanced: draws each class about equally often, however rare', () => {
    const s = samples([10, 90]);
    const counts = [0, 0];
    for (let epoch = 0; epoch < 20; epoch++) for (const i of loader.order(s, epoch, true, true)) counts[s[i].label]++;
    expect(counts[0] + counts[1]).toBe(2000);
    expect(counts[0] / 2000).toBeGreaterThan(0.45);
    expect(counts[0] / 2000).toBeLessThan(0.55);
  });
});

describe('worker threads', () => {
  it('give exactly the batches the main thread gives (seeded augmentation)', async () => {
    const root = new URL('../../shared/datasets/udtn-sample/train/', import.meta.url).pathname;
    const files: Sample[] = ['0', '1'].flatMap((c, label) =>
      readdirSync(join(root, c))
        .slice(0, 3)
        .map((f) => ({ file: join(root, c, f), label })),
    );
    // Worker threads run the compiled worker file: import the loader from the build.
    const { DataLoader: BuiltLoader } = (await import(new URL('../dist/data/loader.js', import.meta.url).href)) as typeof import('../src/data/loader.js');
    const collect = async (workers: number) => {
      const l = new BuiltLoader({ imgSize: 32, workers, seed: 9 });
      const out: number[][] = [];
      for await (const b of l.batches(files, { batchSize: 4, epoch: 2, shuffle: true, augment: true }))
        out.push([...b.labels, ...Array.from(b.images.subarray(0, 64))]);
      await l.close();
      return out;
    };
    expect(await collect(2)).toEqual(await collect(0));
  });
});
