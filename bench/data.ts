// The data pipeline's throughput: decoding and the training transform (RandomResizedCrop + flip +
// normalisation) in the loader's worker threads, images per second, to set beside the training
// step's. The first epoch decodes every file; later ones find the decoded images cached.

import { existsSync } from 'node:fs';
import { DataLoader } from '#engine/data/loader';
import { imageFolder } from '#engine/data/folder';
import { defaultWorkers } from '#engine/train/trainer';
import type { BenchContext } from './context.js';
import { table } from './report.js';

export interface DataRow {
  dataset: string;
  resolution: number;
  workers: number;
  images: number;
  firstEpochImgPerS: number;
  cachedEpochImgPerS: number;
}

const DATASET = '../shared/datasets/ddti/train';

async function epoch(loader: DataLoader, samples: ReturnType<typeof imageFolder>['samples'], e: number): Promise<number> {
  const start = performance.now();
  let count = 0;
  for await (const batch of loader.batches(samples, { batchSize: 32, epoch: e, shuffle: true, augment: true })) count += batch.size;
  return (1000 * count) / (performance.now() - start);
}

export async function dataBench(ctx: BenchContext): Promise<DataRow[]> {
  if (!existsSync(DATASET)) return [];
  const folder = imageFolder(DATASET, 'bench');
  const samples = ctx.smoke ? folder.samples.slice(0, 16) : folder.samples;
  const rows: DataRow[] = [];
  for (const resolution of ctx.smoke ? [64] : [112, 224]) {
    const workers = defaultWorkers();
    const loader = new DataLoader({ imgSize: resolution, workers, seed: 1 });
    try {
      const first = await epoch(loader, samples, 0);
      const cached = await epoch(loader, samples, 1);
      rows.push({ dataset: 'ddti train', resolution, workers, images: samples.length, firstEpochImgPerS: first, cachedEpochImgPerS: cached });
    } finally {
      await loader.close();
    }
  }
  return rows;
}

export function printData(rows: DataRow[]): void {
  if (rows.length === 0) {
    console.log(`data pipeline: ${DATASET} not found, skipped\n`);
    return;
  }
  console.log('data pipeline (decode + RandomResizedCrop + flip + normalise, in worker threads):');
  console.log(
    table(
      ['dataset', 'res', 'workers', 'images', 'first epoch img/s', 'cached img/s'],
      rows.map((r) => [r.dataset, r.resolution, r.workers, r.images, r.firstEpochImgPerS, r.cachedEpochImgPerS]),
    ),
  );
  console.log();
}
