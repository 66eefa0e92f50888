// Where a step spends its GPU time, per kernel: timestamp queries where the adapter has them;
// elsewhere the step's dispatches are recorded and each replayed alone, with the GPU awaited around
// it (on software adapters the per-dispatch wait is small next to the kernels).

import type { GpuBackend } from '#engine/backends/gpu';
import { tidy } from '#engine/autograd/tensor';
import type { Gpu } from '#engine/gpu/context';
import { table } from './report.js';

export interface KernelShare {
  kernel: string;
  dispatches: number;
  ms: number;
  share: number;
}

async function replay(gpu: Gpu, step: () => void): Promise<Map<string, { n: number; ms: number }>> {
  const calls: Parameters<Gpu['run']>[] = [];
  const run = gpu.run.bind(gpu);
  gpu.run = (...args) => {
    calls.push(args);
    run(...args);
  };
  try {
    tidy(step);
    await gpu.sync();
  } finally {
    gpu.run = run;
  }
  const byKernel = new Map<string, { n: number; ms: number }>();
  for (const call of calls) {
    run(...call);
    await gpu.sync();
    const start = performance.now();
    run(...call);
    await gpu.sync();
    const entry = byKernel.get(call[0].name) ?? { n: 0, ms: 0 };
    entry.n++;
    entry.ms += performance.now() - start;
    byKernel.set(call[0].name, entry);
  }
  return byKernel;
}

/** Per-kernel GPU time of one run of `step` (after it has run once, so nothing is compiled). */
export async function profileStep(backend: GpuBackend, step: () => void): Promise<{ method: string; kernels: KernelShare[] }> {
  const gpu = backend.gpu;
  const timings = await gpu.timeDispatches(() => tidy(step));
  let byKernel: Map<string, { n: number; ms: number }>;
  let method: string;
  if (timings) {
    method = 'timestamp queries';
    byKernel = new Map();
    for (const t of timings) {
      const entry = byKernel.get(t.name) ?? { n: 0, ms: 0 };
      entry.n++;
      entry.ms += t.ns / 1e6;
      byKernel.set(t.name, entry);
    }
  } else {
    method = 'replay of each dispatch alone';
    byKernel = await replay(gpu, step);
  }
  const total = [...byKernel.values()].reduce((s, e) => s + e.ms, 0);
  const kernels = [...byKernel].map(([kernel, e]) => ({ kernel, dispatches: e.n, ms: e.ms, share: e.ms / total })).sort((a, b) => b.ms - a.ms);
  return { method, kernels };
}

export function printProfile(title: string, p: { method: string; kernels: KernelShare[] }): void {
  console.log(`${title} (${p.method}):`);
  console.log(
    table(
      ['kernel', 'dispatches', 'ms', 'share'],
      p.kernels.map((k) => [k.kernel, k.dispatches, k.ms, `${(100 * k.share).toFixed(1)}%`]),
    ),
  );
  console.log();
}
