// Test helper: the GPU backends the kernel tests run on, and the CPU reference beside them.
// Both software adapters by default (SwiftShader and llvmpipe compile shaders differently and catch
// different mistakes); SHUFFLENET_TEST_ADAPTERS=a,b picks others. An adapter that cannot be opened
// fails the tests: nothing is skipped silently.

import { CpuBackend } from '../src/autograd/cpu_backend.js';
import { GpuBackend } from '../src/autograd/gpu_backend.js';
import { initBackend } from '../src/autograd/engine.js';
import { Gpu } from '../src/gpu/context.js';
import { openGpu } from '../src/gpu/device.js';
import type { Backend } from '../src/autograd/backend.js';

export const TEST_ADAPTERS = (process.env.SHUFFLENET_TEST_ADAPTERS ?? 'llvmpipe,swiftshader').split(',');

const opened = new Map<string, Promise<Backend>>();

/** The backend for one adapter filter, opened once per test file. */
export function adapterBackend(filter: string): Promise<Backend> {
  let backend = opened.get(filter);
  if (!backend) {
    backend = openGpu(filter).then((o) => new GpuBackend(new Gpu(o.device, o.adapter)));
    opened.set(filter, backend);
  }
  return backend;
}

let defaultGpu: Promise<Backend> | null = null;

/**
 * The default GPU backend (what the product would pick: $SHUFFLENET_ADAPTER, else the best adapter).
 * Fails, saying so, where $SHUFFLENET_ADAPTER picks the CPU reference: these tests need a GPU backend.
 */
export function gpuBackend(): Promise<Backend> {
  return (defaultGpu ??= initBackend().then((backend) => {
    if (!(backend instanceof GpuBackend)) {
      throw new Error(`this test needs a GPU backend, but $SHUFFLENET_ADAPTER=${process.env.SHUFFLENET_ADAPTER} picks the CPU reference: unset it or name an adapter (llvmpipe, swiftshader)`);
    }
    return backend;
  }));
}

export const cpu = new CpuBackend();
