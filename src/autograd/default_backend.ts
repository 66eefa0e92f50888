// The default backend that new tensors live on: a WebGPU device, or the CPU reference.

import { Gpu } from '../gpu/context.js';
import { ADAPTER_ENV, openGpu } from '../gpu/device.js';
import type { Backend } from '../backends/backend.js';
import { CpuBackend } from '../backends/cpu.js';
import { GpuBackend } from '../backends/gpu.js';

let current: Backend | null = null;

/**
 * Opens the backend named by `adapter` (a filter on the adapter's vendor, architecture, device,
 * description or backend; 'cpu' for the CPU reference), by the SHUFFLENET_ADAPTER environment
 * variable, or else the best adapter found, and makes it the default.
 */
export async function initBackend(adapter?: string): Promise<Backend> {
  const env = typeof process !== 'undefined' ? process.env?.[ADAPTER_ENV] : undefined;
  const filter = adapter || env || undefined;
  if (filter?.toLowerCase() === 'cpu') current = new CpuBackend();
  else {
    const opened = await openGpu(filter);
    current = new GpuBackend(new Gpu(opened));
  }
  return current;
}

export function setBackend(backend: Backend): void {
  current = backend;
}

export function getBackend(): Backend {
  if (!current) throw new Error('no backend: call initBackend() first');
  return current;
}
