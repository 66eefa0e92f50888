// The data loader in Node: decoding and augmentation in worker threads (or in this thread with 0
// workers), reading the files from disk; the seeded order and the batches are src/data/batches.ts's,
// shared with the browser.

import { Worker } from 'node:worker_threads';
import { BatchLoader, LocalRunner, type SampleRunner } from './batches.js';
import { readImageFile } from './read_image.js';
import { ImageCache, type SampleResult, type SampleTask } from './sample.js';

export type { Batch, EpochOptions, Failure } from './batches.js';

export interface LoaderOptions {
  imgSize: number;
  workers: number;
  seed: number;
  /** Decoded images each worker keeps in memory. */
  cacheBytes?: number;
}

/** Worker threads running src/data/worker.ts; a file always meets the same worker (and its cache). */
class WorkerThreads implements SampleRunner {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, (r: SampleResult) => void>();

  constructor(count: number, cacheBytes: number) {
    for (let i = 0; i < count; i++) {
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

  get parallelism(): number {
    return this.workers.length;
  }

  run(task: SampleTask, slot: number): Promise<SampleResult> {
    return new Promise((resolve) => {
      this.pending.set(task.id, resolve);
      this.workers[slot % this.workers.length].postMessage(task);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

export class DataLoader extends BatchLoader {
  constructor(options: LoaderOptions) {
    const cacheBytes = options.cacheBytes ?? 512 * 2 ** 20;
    const runner =
      options.workers > 0
        ? new WorkerThreads(options.workers, cacheBytes)
        : new LocalRunner(new ImageCache(cacheBytes, readImageFile), () => new Promise((resolve) => setImmediate(resolve)));
    super(runner, { imgSize: options.imgSize, seed: options.seed });
  }
}
