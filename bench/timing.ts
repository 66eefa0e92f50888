// Timing GPU work: warm-up runs excluded, the GPU awaited after every run, the median reported.

import type { Backend } from '#engine/backends/backend';
import { tidy } from '#engine/autograd/tensor';

export interface Timing {
  /** Median over the timed runs, milliseconds. */
  medianMs: number;
  /** The first run (pipeline creation and shader compilation included), milliseconds. */
  firstMs: number;
  runs: number;
}

export interface TimingOptions {
  warmup: number;
  iters: number;
}

export const SMOKE: TimingOptions = { warmup: 0, iters: 1 };
export const FULL: TimingOptions = { warmup: 2, iters: 7 };

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Times `work` (which records GPU work; tensors it makes synchronously are freed after each run). */
export async function time(backend: Backend, work: () => void | Promise<void>, o: TimingOptions): Promise<Timing> {
  await backend.sync();
  const run = async () => {
    const start = performance.now();
    // Tensors the work makes before its first await are freed after it; async work keeps its own.
    let pending: Promise<void> | undefined;
    tidy(() => {
      pending = work() ?? undefined;
    });
    await pending;
    await backend.sync();
    return performance.now() - start;
  };
  const firstMs = await run();
  for (let i = 1; i < o.warmup; i++) await run();
  const samples: number[] = [];
  for (let i = 0; i < Math.max(1, o.iters); i++) samples.push(await run());
  return { medianMs: median(samples), firstMs, runs: samples.length };
}
