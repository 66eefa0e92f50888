// What every benchmark mode gets: the GPU backend under test, timing settings, and a way to open a
// fresh device (an empty pipeline cache, for first-run times).

import { GpuBackend } from '#engine/backends/gpu';
import { setBackend } from '#engine/autograd/default_backend';
import { Gpu } from '#engine/gpu/context';
import { openGpu } from '#engine/gpu/device';
import type { TimingOptions } from './timing.js';

export interface BenchContext {
  backend: GpuBackend;
  timing: TimingOptions;
  smoke: boolean;
  /** A new device on the same adapter, made the default backend. */
  fresh(): Promise<GpuBackend>;
}

export async function openContext(adapter: string | undefined, timing: TimingOptions, smoke: boolean): Promise<BenchContext> {
  const open = async () => {
    const o = await openGpu(adapter);
    const backend = new GpuBackend(new Gpu(o));
    setBackend(backend);
    return backend;
  };
  const backend = await open();
  return { backend, timing, smoke, fresh: open };
}
