// Test helper: one GPU backend per test file, on the adapter named by SHUFFLENET_ADAPTER (CI runs
// the kernel tests once on SwiftShader and once on llvmpipe), and the CPU reference beside it.

import { CpuBackend } from '../src/autograd/cpu_backend.js';
import { initBackend } from '../src/autograd/engine.js';
import type { Backend } from '../src/autograd/backend.js';

let gpu: Promise<Backend> | null = null;

export function gpuBackend(): Promise<Backend> {
  return (gpu ??= initBackend());
}

export const cpu = new CpuBackend();
