// Test helper: the GPU backends the kernel tests run on, and the CPU reference beside them.
// Both software adapters by default (SwiftShader and llvmpipe compile shaders differently and catch
// different mistakes), each in both device profiles (the hardware kernels and settings, and the
// software ones): SHUFFLENET_TEST_ADAPTERS=a,b and SHUFFLENET_TEST_PROFILES=gpu,software pick
// others. An adapter that cannot be opened fails the tests: nothing is skipped silently.

import { CpuBackend } from '../src/backends/cpu.js';
import { GpuBackend } from '../src/backends/gpu.js';
import { initBackend } from '../src/autograd/default_backend.js';
import { Gpu, type GpuOptions } from '../src/gpu/context.js';
import { openGpu } from '../src/gpu/device.js';
import { parseProfileName, type ProfileName } from '../src/gpu/profile.js';
import type { Backend } from '../src/backends/backend.js';

export const TEST_ADAPTERS = (process.env.SHUFFLENET_TEST_ADAPTERS ?? 'llvmpipe,swiftshader').split(',');

export const TEST_PROFILES: ProfileName[] = (process.env.SHUFFLENET_TEST_PROFILES ?? 'gpu,software')
  .split(',')
  .map((p) => parseProfileName(p, 'SHUFFLENET_TEST_PROFILES'));

/** One adapter in one device profile. */
export interface Target {
  adapter: string;
  profile: ProfileName;
  /** 'llvmpipe/gpu', for test names. */
  label: string;
}

export const TEST_TARGETS: Target[] = TEST_ADAPTERS.flatMap((adapter) =>
  TEST_PROFILES.map((profile) => ({ adapter, profile, label: `${adapter}/${profile}` })),
);

const opened = new Map<string, Promise<Backend>>();

/** The backend for one adapter filter in one profile (default: the first test profile), opened once per test file. */
export function adapterBackend(filter: string, profile: ProfileName = TEST_PROFILES[0], emulate: Omit<GpuOptions, 'profile'> = {}): Promise<Backend> {
  const key = `${filter}/${profile}/${JSON.stringify(emulate)}`;
  let backend = opened.get(key);
  if (!backend) {
    backend = openGpu(filter).then((o) => new GpuBackend(new Gpu(o, { profile, ...emulate })));
    opened.set(key, backend);
  }
  return backend;
}

/** The backend of a test target; `emulate` shrinks its limits (a smaller device). */
export function targetBackend(t: Target, emulate: Omit<GpuOptions, 'profile'> = {}): Promise<Backend> {
  return adapterBackend(t.adapter, t.profile, emulate);
}

/** The environment a CLI subprocess runs a target in. */
export function targetEnv(t: Target): NodeJS.ProcessEnv {
  return { ...process.env, SHUFFLENET_ADAPTER: t.adapter, SHUFFLENET_PROFILE: t.profile };
}

let defaultGpu: Promise<Backend> | null = null;

/**
 * The default GPU backend (what the product would pick: $SHUFFLENET_ADAPTER, else the best adapter).
 * Fails, saying so, where $SHUFFLENET_ADAPTER picks the CPU reference: these tests need a GPU backend.
 */
export function gpuBackend(): Promise<Backend> {
  return (defaultGpu ??= initBackend().then((backend) => {
    if (!(backend instanceof GpuBackend)) {
      throw new Error(
        `this test needs a GPU backend, but $SHUFFLENET_ADAPTER=${process.env.SHUFFLENET_ADAPTER} picks the CPU reference: unset it or name an adapter (llvmpipe, swiftshader)`,
      );
    }
    return backend;
  }));
}

export const cpu = new CpuBackend();
