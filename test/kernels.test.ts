// Every kernel and its backward on each software adapter, in both device profiles, against the CPU
// reference, on small shapes and on awkward ones: batch 1, odd sizes, channel counts that are not
// multiples of 4 or of the tiles.

import { describe, expect, it } from 'vitest';
import type { GpuBackend } from '../src/autograd/gpu_backend.js';
import { full } from '../src/autograd/ops/creation.js';
import { conv2d, conv2dFused } from '../src/autograd/ops/nn.js';
import { narrow, shuffledHalves } from '../src/autograd/ops/shape.js';
import { allChecks, type Check, compareCheck, compareWith, opChecks, runCheck, SMALL } from '../src/autograd/selfcheck.js';
import { noGrad } from '../src/autograd/tape.js';
import { cpu, targetBackend, TEST_TARGETS } from './gpu.js';

const shapes = [
  { label: 'small', shapes: SMALL },
  { label: 'batch 1, odd sizes', shapes: { batch: 1, height: 13, width: 5, channels: 7 } },
  { label: 'larger than one tile', shapes: { batch: 3, height: 17, width: 19, channels: 67 } },
];

for (const target of TEST_TARGETS) {
  for (const { label, shapes: s } of shapes) {
    describe(`${target.label}: kernels vs CPU reference (${label})`, () => {
      for (const check of allChecks(s)) {
        it(check.name, async () => {
          const result = await compareCheck(check, await targetBackend(target), cpu);
          expect(result.error).toBeUndefined();
          expect(result.ok, `max abs error ${result.maxAbsError}`).toBe(true);
        });
      }
    });
  }
}

// Shapes past the device's limits, at their real sizes: a depthwise layer whose flat grid passes
// 65535 workgroups (the input gradient of stride 2, the forward of stride 1), and a convolution whose
// im2col scratch exceeds the adapter's largest storage binding (so it runs in chunks of images).
// Against the CPU reference, in both profiles, on the first adapter (llvmpipe: SwiftShader takes
// minutes at these sizes; the emulated small device below runs the same code paths on every adapter).
function limitChecks(bindingBytes: number): Check[] {
  const grad = (shape: number[]) => ({ shape, requiresGrad: true });
  const dw = { x: grad([96, 58, 56, 56]), w: grad([58, 1, 3, 3]) };
  const stride2 = opChecks('depthwise.stride2 [96, 58, 56, 56]', dw, (x) => conv2d(x.x, x.w, { stride: 2, padding: 1, groups: 58 }));
  // 16 channels, 3x3: 144 patch rows of 64 * 64 positions per image, one image more than a binding holds.
  const images = Math.floor(bindingBytes / (144 * 64 * 64 * 4)) + 1;
  const conv = opChecks('conv2d.im2col_chunks', { x: { shape: [images, 16, 64, 64] }, w: grad([2, 16, 3, 3]) }, (x) => conv2d(x.x, x.w, { padding: 1 }));
  return [
    ...stride2.filter((c) => c.wrt !== 'w'),
    opChecks('depthwise.stride1 [96, 58, 56, 56]', dw, (x) => conv2d(x.x, x.w, { padding: 1, groups: 58 }))[0],
    ...conv,
  ];
}

// The CPU reference's values, computed once per check for all targets (they are large and slow).
const referenceValues = new Map<string, Promise<Float32Array>>();
const reference = (check: Check) => {
  const key = `${check.name} ${JSON.stringify(check.inputs)}`;
  if (!referenceValues.has(key)) referenceValues.set(key, runCheck(check, cpu));
  return referenceValues.get(key)!;
};

for (const target of TEST_TARGETS.filter((t) => t.adapter === TEST_TARGETS[0].adapter)) {
  describe(`${target.label}: shapes past the device limits vs CPU reference`, async () => {
    const backend = (await targetBackend(target)) as GpuBackend;
    for (const check of limitChecks(backend.gpu.largestBinding)) {
      it(check.name, async () => {
        const result = await compareWith(check, backend, () => reference(check));
        expect(result.error).toBeUndefined();
        expect(result.ok, `max abs error ${result.maxAbsError}`).toBe(true);
      });
    }
  });
}

// The same code paths on every adapter, cheaply: a device emulated with 2 workgroups per grid-stride
// dimension (every grid-stride loop goes round many times) and 16 KiB bindings (im2col in chunks of
// one image, weight gradients summed over the chunks).
const SMALL_DEVICE = { maxGroups: 2, largestBinding: 16384 + 256 };
for (const target of TEST_TARGETS) {
  describe(`${target.label}: kernels vs CPU reference on an emulated small device (2 workgroups per dimension, 16 KiB bindings)`, () => {
    for (const check of allChecks(shapes[2].shapes)) {
      it(check.name, async () => {
        const result = await compareCheck(check, await targetBackend(target, SMALL_DEVICE), cpu);
        expect(result.error).toBeUndefined();
        expect(result.ok, `max abs error ${result.maxAbsError}`).toBe(true);
      });
    }
  });
}

// 1x1 convolutions on shapes that take each variant of the software profile's matrix product
// (matmul_direct.ts): forward with the fused epilogue (scale, shift, ReLU) written into the odd
// channels of a shuffled concatenation, as ShuffleNet's branches write, from a channel slice of the
// input (a non-zero view offset), and the plain convolution's forward and backward. Edge blocks:
// M and N not multiples of the register block. In the software profile the test also checks that
// the named variant ran, so each variant stays covered.
const PRODUCT_CASES = [
  { variant: 'matmul_direct_nk_4x8_vec4out', x: [2, 9, 4, 17], k: 7 }, // N = 68 columns, vec4 along N and (K = 8) along K
  { variant: 'matmul_direct_n_4x8_vec4out', x: [2, 10, 4, 17], k: 7 }, // K = 9: vec4 along N only
  { variant: 'matmul_direct_n_4x8', x: [3, 10, 5, 4], k: 12 }, // 20 columns: computed transposed, epilogue per column
  { variant: 'matmul_direct_folded_4x8', x: [2, 10, 5, 3], k: 7 }, // 15 columns, M = 7: images folded into the columns
  { variant: 'matmul_direct_scalar_4x8', x: [2, 10, 9, 9], k: 6 }, // 81 columns: no vec4 side
];

function productChecks(x: number[], k: number): Check[] {
  const [N, C, H, W] = x;
  const inputs = { x: { shape: x, requiresGrad: true }, w: { shape: [k, C - 1, 1, 1], requiresGrad: true } };
  const fusedInputs = { x: { shape: x }, w: { shape: [k, C - 1, 1, 1] }, scale: { shape: [k] }, shift: { shape: [k] } };
  return [
    ...opChecks('conv2d.pointwise.slice', inputs, (t) => conv2d(narrow(t.x, 1, 1, C - 1), t.w)),
    {
      name: 'conv2d.pointwise.fused_into_shuffle',
      inputs: fusedInputs,
      run: (t) =>
        noGrad(() => {
          const out = full([N, 2 * k, H, W], 0, t.x.backend);
          conv2dFused(narrow(t.x, 1, 1, C - 1), t.w, {}, { scale: t.scale, shift: t.shift, relu: true }, shuffledHalves(out)[1]);
          return out;
        }),
    },
  ];
}

for (const target of TEST_TARGETS) {
  describe(`${target.label}: 1x1 convolutions in every matrix-product variant vs CPU reference`, () => {
    for (const { variant, x, k } of PRODUCT_CASES) {
      for (const check of productChecks(x, k)) {
        it(`${check.name} [${x}] -> ${k} (${variant})`, async () => {
          const backend = (await targetBackend(target)) as GpuBackend;
          const gpu = backend.gpu;
          const ran = new Set<string>();
          const run = gpu.run.bind(gpu);
          gpu.run = (...args) => {
            ran.add(args[0].name);
            run(...args);
          };
          try {
            const result = await compareCheck(check, backend, cpu);
            expect(result.error).toBeUndefined();
            expect(result.ok, `max abs error ${result.maxAbsError}`).toBe(true);
          } finally {
            gpu.run = run;
          }
          if (target.profile === 'software') expect([...ran]).toContain(variant);
        });
      }
    }
  });
}
