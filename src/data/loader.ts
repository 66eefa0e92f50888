// The data loader: decoding and augmentation in worker threads (or in this thread with 0 workers),
// samples dispatched ahead of the consumer (prefetch) and handed back as batches in order. Every
// sample's augmentation draws from its own seed (run seed, epoch, index), and each epoch's order from
// (run seed, epoch): the batches are the same whatever the number of workers or their timing.

import { Worker } from 'node:worker_threads';
import type { Sample } from './folder.js';
import { Rng } from './rng.js';
import { ImageCache, mixSeed, runTask, type SampleMode, type SampleResult, type SampleTask } from './sample.js';

export interface LoaderOptions {
  imgSize: number;
  workers: number;
  seed: number;
  /** Decoded images each worker keeps in memory. */
  cacheBytes?: number;
}

export interface Batch {
  /** [size, 3, imgSize, imgSize] */
  images: Float32Array;
  labels: Int32Array;
  files: string[];
  size: number;
}

export interface Failure {
  file: string;
  message: string;
}

export interface EpochOptions {
  batchSize: number;
  epoch: number;
  shuffle: boolean;
  augment: boolean;
  /** Draw the epoch's samples (with replacement) so that every class is equally likely. */
  balanced?: boolean;
  /** Called for a sample that fails now although it was readable before (it is left out of its batch). */
  onFailure?: (f: Failure) => void;
  /** Leave out a last batch of a single sample (training: batch norm needs more than one value per channel). */
  dropLoneLast?: boolean;
}

/**
 * The epoch's batches as runs of its sample order, batchSize at a time; with dropLoneLast, a last
 * batch of one sample is left out (as PyTorch users do with drop_last), unless it is the only one.
 */
export function composeBatches(order: readonly number[], batchSize: number, dropLoneLast: boolean): number[][] {
  const batches: number[][] = [];
  for (let first = 0; first < order.length; first += batchSize) batches.push(order.slice(first, first + batchSize));
  if (dropLoneLast && batches.length > 1 && batches[batches.length - 1].length === 1) batches.pop();
  return batches;
}

export class DataLoader {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, (r: SampleResult) => void>();
  private readonly localCache: ImageCache;
  private nextId = 0;

  constructor(private readonly options: LoaderOptions) {
    const cacheBytes = options.cacheBytes ?? 512 * 2 ** 20;
    this.localCache = new ImageCache(options.workers > 0 ? 0 : cacheBytes);
    for (let i = 0; i < options.workers; i++) {
      const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { cacheBytes } });
      worker.on('message', (r: SampleResult) => {
        this.pending.get(r.id)?.(r);
        this.pending.delete(r.id);
      });
      worker.on('error', (e: Error) => {
        for (const resolve of this.pending.values()) resolve({ id: -1, error: `data worker failed: ${e.message}` });
        this.pending.clear();
      });
      this.workers.push(worker);
    }
  }

  /** Runs one sample; `slot` picks the worker, so a file always meets the same worker's cache. */
  private run(file: string, slot: number, mode: SampleMode, seed: number): Promise<SampleResult> {
    const task: SampleTask = { id: this.nextId++, file, mode, imgSize: this.options.imgSize, seed };
    if (this.workers.length === 0) return new Promise((resolve) => setImmediate(() => resolve(runTask(task, this.localCache))));
    return new Promise((resolve) => {
      this.pending.set(task.id, resolve);
      this.workers[slot % this.workers.length].postMessage(task);
    });
  }

  /** Decodes every sample once (and caches it); returns the readable ones and the failures. */
  async scan(samples: Sample[], onProgress?: (done: number) => void): Promise<{ readable: Sample[]; failures: Failure[] }> {
    const results = await this.ordered(samples.map((s, i) => () => this.run(s.file, i, 'scan', 0)), (done) => onProgress?.(done));
    const readable: Sample[] = [];
    const failures: Failure[] = [];
    results.forEach((r, i) => ('error' in r ? failures.push({ file: samples[i].file, message: r.error }) : readable.push(samples[i])));
    return { readable, failures };
  }

  /** Runs thunks with at most `window` in flight, in order. */
  private async ordered(thunks: (() => Promise<SampleResult>)[], onEach?: (done: number) => void): Promise<SampleResult[]> {
    const window = Math.max(8, 4 * this.workers.length);
    const out: SampleResult[] = [];
    const inFlight: Promise<SampleResult>[] = [];
    let started = 0;
    while (out.length < thunks.length) {
      while (started < thunks.length && inFlight.length < window) inFlight.push(thunks[started++]());
      out.push(await inFlight.shift()!);
      onEach?.(out.length);
    }
    return out;
  }

  /**
   * The epoch's sample indices: all of them, shuffled or not; or, balanced, as many draws with
   * replacement, each picking a class uniformly and then one of its samples.
   */
  order(samples: Sample[], epoch: number, shuffle: boolean, balanced = false): number[] {
    const rng = new Rng(mixSeed(this.options.seed, epoch, 0x5eed));
    const indices = samples.map((_, i) => i);
    if (!balanced) return shuffle ? rng.shuffle(indices) : indices;
    const byClass = new Map<number, number[]>();
    for (const i of indices) byClass.set(samples[i].label, [...(byClass.get(samples[i].label) ?? []), i]);
    const classes = [...byClass.values()];
    return indices.map(() => {
      const members = classes[rng.int(classes.length)];
      return members[rng.int(members.length)];
    });
  }

  /** The epoch's batches, in order, with up to two batches of samples being prepared ahead. */
  async *batches(samples: Sample[], o: EpochOptions): AsyncGenerator<Batch> {
    const order = this.order(samples, o.epoch, o.shuffle, o.balanced);
    const sampleSize = 3 * this.options.imgSize * this.options.imgSize;
    const ahead = Math.max(2 * o.batchSize, 4 * this.workers.length);
    const queue: Promise<SampleResult>[] = [];
    let started = 0;
    const batches = composeBatches(order, o.batchSize, o.dropLoneLast ?? false);
    const used = batches.reduce((n, b) => n + b.length, 0);
    const fill = () => {
      while (started < used && queue.length < ahead) {
        const index = order[started++];
        queue.push(this.run(samples[index].file, index, o.augment ? 'train' : 'eval', mixSeed(this.options.seed, o.epoch, index)));
      }
    };
    for (const members of batches) {
      const images = new Float32Array(members.length * sampleSize);
      const labels: number[] = [];
      const files: string[] = [];
      for (const index of members) {
        fill();
        const r = await queue.shift()!;
        if ('error' in r) {
          o.onFailure?.({ file: samples[index].file, message: r.error });
          continue;
        }
        images.set(r.data, labels.length * sampleSize);
        labels.push(samples[index].label);
        files.push(samples[index].file);
      }
      fill();
      if (labels.length > 0) yield { images: images.subarray(0, labels.length * sampleSize), labels: Int32Array.from(labels), files, size: labels.length };
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
