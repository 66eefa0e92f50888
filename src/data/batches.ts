// Batches from a seeded epoch order, the same on every platform: each epoch's order comes from (run
// seed, epoch) and every sample's augmentation from its own seed (run seed, epoch, index), so the
// batches are the same whatever runs the samples (worker threads, this thread, a browser's Web
// Worker) and however its timing goes. Samples are dispatched ahead of the consumer (prefetch) and
// handed back as batches in order.

import type { Sample } from './dataset.js';
import { Rng } from './rng.js';
import { type ImageCache, mixSeed, runTask, type SampleMode, type SampleResult, type SampleTask } from './sample.js';

/** Runs one sample task; `slot` (the sample's index) lets a runner send a file always to the same cache. */
export interface SampleRunner {
  run(task: SampleTask, slot: number): Promise<SampleResult>;
  /** How many tasks it works on at once (sets how far ahead samples are dispatched). */
  readonly parallelism: number;
  close(): Promise<void>;
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

/**
 * The epoch's sample indices: all of them, shuffled or not; or, balanced, as many draws with
 * replacement, each picking a class uniformly and then one of its samples.
 */
export function epochOrder(samples: readonly Sample[], seed: number, epoch: number, shuffle: boolean, balanced = false): number[] {
  const rng = new Rng(mixSeed(seed, epoch, 0x5eed));
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

export class BatchLoader {
  private nextId = 0;

  constructor(
    private readonly runner: SampleRunner,
    private readonly options: { imgSize: number; seed: number },
  ) {}

  private run(file: string, slot: number, mode: SampleMode, seed: number): Promise<SampleResult> {
    return this.runner.run({ id: this.nextId++, file, mode, imgSize: this.options.imgSize, seed }, slot);
  }

  /** Decodes every sample once (and caches it); returns the readable ones and the failures. */
  async scan(samples: Sample[], onProgress?: (done: number) => void): Promise<{ readable: Sample[]; failures: Failure[] }> {
    const results = await this.ordered(
      samples.map((s, i) => () => this.run(s.file, i, 'scan', 0)),
      (done) => onProgress?.(done),
    );
    const readable: Sample[] = [];
    const failures: Failure[] = [];
    results.forEach((r, i) => ('error' in r ? failures.push({ file: samples[i].file, message: r.error }) : readable.push(samples[i])));
    return { readable, failures };
  }

  /** Runs thunks with at most `window` in flight, in order. */
  private async ordered(thunks: (() => Promise<SampleResult>)[], onEach?: (done: number) => void): Promise<SampleResult[]> {
    const window = Math.max(8, 4 * this.runner.parallelism);
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

  order(samples: Sample[], epoch: number, shuffle: boolean, balanced = false): number[] {
    return epochOrder(samples, this.options.seed, epoch, shuffle, balanced);
  }

  /** The epoch's batches, in order, with up to two batches of samples being prepared ahead. */
  async *batches(samples: Sample[], o: EpochOptions): AsyncGenerator<Batch> {
    const order = this.order(samples, o.epoch, o.shuffle, o.balanced);
    const batches = composeBatches(order, o.batchSize, o.dropLoneLast ?? false);
    const used = batches.reduce((n, b) => n + b.length, 0);
    const sampleSize = 3 * this.options.imgSize * this.options.imgSize;
    const ahead = Math.max(2 * o.batchSize, 4 * this.runner.parallelism);
    const queue: Promise<SampleResult>[] = [];
    let started = 0;
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

  close(): Promise<void> {
    return this.runner.close();
  }
}

/** Runs samples in this thread, one at a time, letting the event loop run (`defer`) before each. */
export class LocalRunner implements SampleRunner {
  readonly parallelism = 0;

  constructor(
    private readonly cache: ImageCache,
    private readonly defer: () => Promise<void>,
  ) {}

  async run(task: SampleTask): Promise<SampleResult> {
    await this.defer();
    return runTask(task, this.cache);
  }

  async close(): Promise<void> {}
}
