// Every kernel and its backward on each software adapter, in both device profiles, against the CPU
// reference, on small shapes and on awkward ones: batch 1, odd sizes, channel counts that are not
// multiples of 4 or of the tiles; and the kernel machinery (memoised variants, parameter checks, views).

import { describe, expect, it, vi } from 'vitest';
import type { GpuBackend } from '../src/backends/gpu.js';
import type { Tensor } from '../src/autograd/tensor.js';
import { empty, full } from '../src/autograd/ops/creation.js';
import { batchNorm2d, conv2d, conv2dFused, maxPool2d } from '../src/autograd/ops/nn.js';
import { fused } from '../src/autograd/ops/elementwise.js';
import { addInto, copy } from '../src/autograd/ops/plain.js';
import { sum } from '../src/autograd/ops/reduce.js';
import { concatShuffle, narrow, permute, shuffledHalves, transpose } from '../src/autograd/ops/shape.js';
import { allChecks, type Check, type CheckShapes, compareCheck, compareWith, opChecks, runCheck, SMALL } from '../src/autograd/selfcheck.js';
import { noGrad } from '../src/autograd/tape.js';
import { CHECK_KERNELS_ENV, memoKernel } from '../src/gpu/context.js';
import { E } from '../src/kernels/expr.js';
import { DIRECT_BLOCKS } from '../src/gpu/profile.js';
import { view } from '../src/kernels/view.js';
import { cpu, targetBackend, TEST_TARGETS } from './gpu.js';

const shapes = [
  { label: 'small', shapes: SMALL },
  { label: 'batch 1, odd sizes', shapes: { batch: 1, height: 13, width: 5, channels: 7 } },
  { label: 'larger than one tile', shapes: { batch: 3, height: 17, width: 19, channels: 67 } },
];

// The convolution, pooling and batch-norm kernels on views: inputs that are channel slices of a
// bigger tensor (a non-zero offset), outputs written into their place in a shuffled concatenation,
// and gradients arriving as the strided views that concatenation's backward hands out.
function viewChecks(s: CheckShapes): Check[] {
  const { batch: N, height: H, width: W, channels: C } = s;
  const grad = (shape: number[]) => ({ shape, requiresGrad: true });
  const out = (n: number, stride: number) => Math.floor((n + 2 - 3) / stride) + 1;
  const slice = (t: Tensor) => narrow(t, 1, 2, C);
  const depthwise = (stride: number) =>
    opChecks(
      `depthwise.stride${stride}.channel_slice_into_shuffle`,
      { x: grad([N, C + 3, H, W]), w: grad([C, 1, 3, 3]), other: { shape: [N, C, out(H, stride), out(W, stride)] } },
      (x) => concatShuffle(x.other, conv2d(slice(x.x), x.w, { stride, padding: 1, groups: C })),
    );
  const bn = { x: grad([N, C + 3, H, W]), weight: grad([C]), bias: grad([C]), rm: { shape: [C] }, rv: { shape: [C], positive: true } };
  const batchNorm = (training: boolean, relu: boolean) =>
    opChecks(`batchnorm${relu ? '_relu' : ''}.${training ? 'train' : 'eval'}.channel_slice_into_shuffle`, bn, (x) => {
      const [, odd] = shuffledHalves(empty([N, 2 * C, H, W], 'float32', x.x.backend));
      return batchNorm2d(slice(x.x), x.weight, x.bias, x.rm, x.rv, { training, relu, into: odd });
    });
  // More positions per channel than one invocation sums on a software adapter (8192): the depthwise
  // weight gradient and the batch-norm sums in slices of images, added up afterwards.
  const manyPositions = opChecks('depthwise.stride1 [3, 2, 60, 60]', { x: { shape: [3, 2, 60, 60] }, w: grad([2, 1, 3, 3]) }, (x) =>
    conv2d(x.x, x.w, { padding: 1, groups: 2 }),
  );
  const bnMany = { x: grad([3, 2, 60, 60]), weight: grad([2]), bias: grad([2]), rm: { shape: [2] }, rv: { shape: [2], positive: true } };
  const batchNormMany = (training: boolean, relu: boolean) =>
    opChecks(`batchnorm${relu ? '_relu' : ''}.${training ? 'train' : 'eval'} [3, 2, 60, 60]`, bnMany, (x) =>
      batchNorm2d(x.x, x.weight, x.bias, x.rm, x.rv, { training, relu }),
    );
  // A channel of 4096 one-position planes: the serial sums' 4096 blocks reach the top of their
  // pairwise cascade (batchnorm_common.ts), which shorter channels never fill.
  const bnLong = { x: grad([4096, 2, 1, 1]), weight: grad([2]), bias: grad([2]), rm: { shape: [2] }, rv: { shape: [2], positive: true } };
  const batchNormLong = opChecks('batchnorm_relu.train [4096, 2, 1, 1]', bnLong, (x) =>
    batchNorm2d(x.x, x.weight, x.bias, x.rm, x.rv, { training: true, relu: true }),
  );
  // The stem's direct convolution and the max pool on rows that are read and written as aligned
  // quads (W a multiple of 4, window_common.ts), with and without the epilogue, and the max pool
  // without its argmax (inference); odd widths and channel slices above take the scalar paths.
  const plain = (shape: number[]) => ({ shape });
  const stemQuads = { x: plain([N, 3, 2 * H, 16]), w: plain([C, 3, 3, 3]), scale: plain([C]), shift: plain([C]) };
  const stemSlice = { x: plain([N, 5, H, W]), w: plain([C, 3, 3, 3]), scale: plain([C]), shift: plain([C]) };
  const pool = { kernel: 3, stride: 2, padding: 1 };
  // Depthwise forwards tall enough for 4 output rows per invocation (stride 1) and 2 (stride 2) in the
  // channel tiling, each with a last block of rows cut short (30 = 7 * 4 + 2, 15 = 7 * 2 + 1).
  const tall = { x: plain([N, C, 30, 30]), w: plain([C, 1, 3, 3]), scale: plain([C]), shift: plain([C]) };
  const tallDepthwise = [1, 2].map(
    (stride): Check => ({
      name: `depthwise.stride${stride}.row_blocks.fused_epilogue`,
      inputs: tall,
      run: (x) => noGrad(() => conv2dFused(x.x, x.w, { stride, padding: 1, groups: C }, { scale: x.scale, shift: x.shift, relu: true })),
    }),
  );
  const quads: Check[] = [
    ...opChecks('conv2d.stem.quads', { x: grad([N, 3, 2 * H, 16]), w: grad([C, 3, 3, 3]) }, (x) => conv2d(x.x, x.w, { stride: 2, padding: 1 })),
    {
      name: 'conv2d.stem.quads.fused_epilogue',
      inputs: stemQuads,
      run: (x) => noGrad(() => conv2dFused(x.x, x.w, { stride: 2, padding: 1 }, { scale: x.scale, shift: x.shift, relu: true })),
    },
    {
      name: 'conv2d.stem.channel_slice.fused_epilogue',
      inputs: stemSlice,
      run: (x) => noGrad(() => conv2dFused(narrow(x.x, 1, 1, 3), x.w, { stride: 2, padding: 1 }, { scale: x.scale, shift: x.shift })),
    },
    {
      name: 'conv2d.grouped.fused_epilogue',
      inputs: { x: plain([N, 4, H, W]), w: plain([6, 2, 3, 3]), scale: plain([6]), shift: plain([6]) },
      run: (x) => noGrad(() => conv2dFused(x.x, x.w, { padding: 1, groups: 2 }, { scale: x.scale, shift: x.shift, relu: true })),
    },
    ...opChecks('maxpool.quads', { x: grad([N, C, 2 * H, 16]) }, (x) => maxPool2d(x.x, pool)),
    { name: 'maxpool.quads.no_grad', inputs: { x: plain([N, C, 2 * H, 16]) }, run: (x) => noGrad(() => maxPool2d(x.x, pool)) },
    { name: 'maxpool.no_grad', inputs: { x: plain([N, C, H, W]) }, run: (x) => noGrad(() => maxPool2d(x.x, pool)) },
  ];
  return [
    ...quads,
    ...tallDepthwise,
    ...depthwise(1),
    ...depthwise(2),
    ...manyPositions.filter((c) => c.wrt === 'w'),
    ...batchNormLong,
    ...batchNormMany(true, true),
    ...batchNormMany(true, false),
    ...batchNormMany(false, true),
    ...batchNorm(true, true),
    ...batchNorm(true, false),
    ...batchNorm(false, true),
    ...opChecks('maxpool.channel_slice_into_shuffle', { x: grad([N, C + 3, H, W]), other: { shape: [N, C, out(H, 2), out(W, 2)] } }, (x) =>
      concatShuffle(maxPool2d(slice(x.x), { kernel: 3, stride: 2, padding: 1 }), x.other),
    ),
  ];
}

for (const target of TEST_TARGETS) {
  for (const { label, shapes: s } of shapes) {
    describe(`${target.label}: kernels vs CPU reference (${label})`, () => {
      for (const check of [...allChecks(s), ...viewChecks(s)]) {
        it(check.name, async () => {
          const result = await compareCheck(check, await targetBackend(target), cpu);
          expect(result.error).toBeUndefined();
          expect(result.ok, `max abs error ${result.maxAbsError}`).toBe(true);
        });
      }
    });
  }
}

// The batch-norm kernels' workgroup form (a workgroup per channel) on the software profile, which
// takes it only for planes longer than serialBatchNormUpTo (a 224x224 stem): checked with the serial
// form off, with the batch-norm checks above.
for (const target of TEST_TARGETS.filter((t) => t.profile === 'software')) {
  for (const { label, shapes: s } of shapes) {
    describe(`${target.label}: workgroup batch norm vs CPU reference (${label})`, () => {
      for (const check of [...allChecks(s), ...viewChecks(s)].filter((c) => c.name.startsWith('batchnorm'))) {
        it(check.name, async () => {
          const result = await compareCheck(check, await targetBackend(target, { serialBatchNormUpTo: 0 }), cpu);
          expect(result.error).toBeUndefined();
          expect(result.ok, `max abs error ${result.maxAbsError}`).toBe(true);
        });
      }
    });
  }
}

// The quad rows of the max pool and the direct stem (DeviceProfile.windowQuads: on for llvmpipe
// alone), forced on every adapter and profile, on the checks whose rows allow them.
for (const target of TEST_TARGETS) {
  describe(`${target.label}: quad rows (windowQuads) vs CPU reference`, () => {
    for (const check of viewChecks(SMALL).filter((c) => c.name.includes('quads'))) {
      it(check.name, async () => {
        const result = await compareCheck(check, await targetBackend(target, { windowQuads: true }), cpu);
        expect(result.error).toBeUndefined();
        expect(result.ok, `max abs error ${result.maxAbsError}`).toBe(true);
      });
    }
  });
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

// The machinery every kernel goes through: variants generated once per key (and the debug check that
// a key's text never changes), the dispatch's parameters matching the kernel's declaration exactly,
// and the generated view accessors.
describe('kernel variants, parameters and views', () => {
  it('generates a variant once per key and keys its pipeline by it', async () => {
    let builds = 0;
    const probe = memoKernel('probe_variants', (workgroup: number, flag: boolean) => {
      builds++;
      return { params: ['n'], wgsl: `@compute @workgroup_size(${workgroup}) fn main() { _ = P.n${flag ? ' + 1u' : ''}; }` };
    });
    expect(probe(4, true)).toBe(probe(4, true));
    expect(probe(4, false)).not.toBe(probe(4, true));
    expect(probe(8, true).key).toBe('probe_variants(8,true)');
    expect(builds).toBe(3);
    const { gpu } = (await targetBackend(TEST_TARGETS[0])) as GpuBackend;
    gpu.run(probe(4, true), [], [1], { n: 1 });
    gpu.run(probe(4, true), [], [1], { n: 2 });
    expect(gpu.pipelines.has('probe_variants(4,true)')).toBe(true);
    await gpu.sync();
    expect(() => memoKernel('probe_variants', () => ({ params: [], wgsl: '' }))).toThrow(/two kernels are named probe_variants/);
  });

  it(`fails, under ${CHECK_KERNELS_ENV}=1, when a key's text changes (an input missing from the key)`, async () => {
    vi.stubEnv(CHECK_KERNELS_ENV, '1');
    vi.resetModules();
    try {
      const fresh = await import('../src/gpu/context.js');
      let size = 1;
      const leaky = fresh.memoKernel('probe_leaky', () => ({ params: [], wgsl: `const SIZE = ${size}u;` }));
      leaky();
      leaky();
      size = 2;
      expect(() => leaky()).toThrow(/probe_leaky\(\): the kernel's text changed for the same key/);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('refuses a dispatch whose parameters are missing or not declared', async () => {
    const { gpu } = (await targetBackend(TEST_TARGETS[0])) as GpuBackend;
    const probe = memoKernel('probe_params', () => ({ params: ['a', 'b'], wgsl: '@compute @workgroup_size(1) fn main() { _ = P.a + P.b; }' }));
    expect(() => gpu.run(probe(), [], [1], { a: 1 })).toThrow(/probe_params: parameter b was not given/);
    expect(() => gpu.run(probe(), [], [1], { a: 1, b: 2, c: 3 })).toThrow(/probe_params: parameter\(s\) c given but not declared/);
    expect(() => gpu.run(probe(), [], [1], { a: 1, c: 3 })).toThrow(/probe_params: parameter b was not given/);
    gpu.run(probe(), [], [1], { a: 1, b: 2 });
    await gpu.sync();
  });

  it('generates view accessors: uniform names, a base per outer index, the inner strides per element', () => {
    const x = view('x', ['N', 'C'], ['H', 'W']);
    expect(x.params).toEqual(['xOff', 'xN', 'xC', 'xH', 'xW']);
    expect(x.wgsl).toContain('fn xBase(n: u32, c: u32) -> u32 { return P.xOff + n * P.xN + c * P.xC; }');
    expect(x.wgsl).toContain('fn xAt(base: u32, h: u32, w: u32) -> u32 { return base + h * P.xH + w * P.xW; }');
    const binding = { buffer: {} as GPUBuffer };
    expect(x.values({ binding, offset: 5, strides: [60, 20, 4, 1] })).toEqual({ xOff: 5, xN: 60, xC: 20, xH: 4, xW: 1 });
    expect(() => x.values({ binding, offset: 0, strides: [4, 1] })).toThrow(/view x: 4 strides expected/);
    expect(view('s', []).wgsl).toContain('fn sBase() -> u32 { return P.sOff; }');
    const run = view('p', [], ['I'], { unitStride: true });
    expect(run.params).toEqual(['pOff']);
    expect(run.wgsl).toContain('fn pAt(base: u32, i: u32) -> u32 { return base + i; }');
    expect(run.values({ binding, offset: 8, strides: [1] })).toEqual({ pOff: 8 });
    expect(() => run.values({ binding, offset: 8, strides: [2] })).toThrow(/view p: unit stride expected along I/);
  });
});

// The generic kernels in each variant their operands' layout selects: element-wise over every merged
// rank (1-4), each access (vec4, gathered under vec4, scalar, broadcast, read through the output
// binding) and both row walks (short rows taken whole on the software profile, long rows shared);
// reductions one invocation per output (reduce_columns) and in workgroups with partial sums over
// splits (reduce), kept and reduced parts that do not merge. The forward check also asserts that
// the named variant ran (its key: expression, rank, vec, output access, input accesses, ...).
const x0 = E.in(0);
const x1 = E.in(1);
const GENERIC_CASES: { check: Check; variant: RegExp }[] = [
  {
    check: opChecks('elementwise.rank1', { a: { shape: [37] }, b: { shape: [37] } }, (t) => fused(E.mul(x0, x1), [t.a, t.b]))[0],
    variant: /^elementwise\(.*,1,1,scalar,scalar\|scalar,/,
  },
  {
    check: opChecks('elementwise.rank1.broadcast', { a: { shape: [40] }, s: { shape: [1] } }, (t) => fused(E.mul(x0, x1), [t.a, t.s]))[0],
    variant: /^elementwise\(.*,1,4,vec4,vec4\|broadcast,/,
  },
  {
    check: opChecks('elementwise.rank2.transposed_broadcast', { a: { shape: [8, 12] }, b: { shape: [12, 1] } }, (t) =>
      fused(E.add(x0, x1), [transpose(t.a, 0, 1), t.b]),
    )[0],
    variant: /^elementwise\(.*,2,4,vec4,scalar\|broadcast,/,
  },
  {
    check: opChecks('elementwise.rank2.long_rows', { a: { shape: [3, 5, 300] }, b: { shape: [3, 3, 300] } }, (t) =>
      fused(E.sub(x0, x1), [narrow(t.a, 1, 1, 3), t.b]),
    )[0],
    variant: /^elementwise\(.*,2,4,vec4,vec4\|vec4,0,\d+,false\)$/,
  },
  {
    check: opChecks('elementwise.rank3.offset', { a: { shape: [3, 5, 9] }, b: { shape: [3, 3, 8] } }, (t) =>
      fused(E.mul(x0, x1), [narrow(narrow(t.a, 1, 1, 3), 2, 1, 8), t.b]),
    )[0],
    variant: /^elementwise\(.*,3,4,vec4,scalar\|vec4,/,
  },
  {
    check: opChecks('elementwise.rank4.permuted', { a: { shape: [2, 3, 4, 5] }, b: { shape: [2, 4, 3, 5] } }, (t) =>
      fused(E.add(x0, x1), [permute(t.a, [0, 2, 1, 3]), t.b]),
    )[0],
    variant: /^elementwise\(.*,4,1,scalar,scalar\|scalar,/,
  },
  {
    check: opChecks('elementwise.rank4.permuted_vec4', { a: { shape: [2, 3, 4, 8] }, b: { shape: [2, 4, 3, 8] } }, (t) =>
      fused(E.add(x0, x1), [permute(t.a, [0, 2, 1, 3]), t.b]),
    )[0],
    variant: /^elementwise\(.*,4,4,vec4,vec4\|vec4,/,
  },
  {
    check: { name: 'elementwise.in_place.vec4', inputs: { a: { shape: [4, 8] }, b: { shape: [4, 8] } }, run: (t) => noGrad(() => inPlaceSum(t.a, t.b)) },
    variant: /^elementwise\(.*,1,4,vec4,out:vec4\|vec4,/,
  },
  {
    check: {
      name: 'elementwise.in_place.broadcast_rows',
      inputs: { a: { shape: [5, 7] }, b: { shape: [1, 7] } },
      run: (t) => noGrad(() => inPlaceSum(t.a, t.b)),
    },
    variant: /^elementwise\(.*,2,1,scalar,out:scalar\|scalar,/,
  },
  {
    check: opChecks('reduce.columns.kept2_reduced2', { x: { shape: [3, 5, 5, 6] } }, (t) =>
      sum(narrow(narrow(permute(t.x, [0, 2, 1, 3]), 2, 1, 4), 3, 0, 5), [0, 2]),
    )[0],
    variant: /^reduce_columns\(/,
  },
  {
    check: opChecks('reduce.splits', { x: { shape: [3, 2, 2400] } }, (t) => sum(narrow(t.x, 2, 5, 2390), [0, 2]))[0],
    variant: /^reduce\(/,
  },
];

function inPlaceSum(a: Tensor, b: Tensor): Tensor {
  const out = copy(a);
  addInto(out, b);
  return out;
}

/** Runs a check against the CPU reference, which it must pass; returns the keys (or names) of the kernels it dispatched. */
async function passesRecording(check: Check, backend: GpuBackend): Promise<string[]> {
  const gpu = backend.gpu;
  const ran = new Set<string>();
  const run = gpu.run.bind(gpu);
  gpu.run = (...args) => {
    ran.add(args[0].key ?? args[0].name);
    run(...args);
  };
  try {
    const result = await compareCheck(check, backend, cpu);
    expect(result.error).toBeUndefined();
    expect(result.ok, `max abs error ${result.maxAbsError}`).toBe(true);
  } finally {
    gpu.run = run;
  }
  return [...ran];
}

for (const target of TEST_TARGETS) {
  describe(`${target.label}: element-wise and reduction kernels in every rank, access and split vs CPU reference`, () => {
    for (const { check, variant } of GENERIC_CASES) {
      it(check.name, async () => {
        const ran = await passesRecording(check, (await targetBackend(target)) as GpuBackend);
        expect(
          ran.some((key) => variant.test(key)),
          ran.join('\n'),
        ).toBe(true);
      });
    }
  });
}

// 1x1 convolutions on shapes that take each variant of the software profile's matrix product
// (matmul_direct.ts): forward with the fused epilogue (scale, shift, ReLU) written into the odd
// channels of a shuffled concatenation, as ShuffleNet's branches write, from a channel slice of the
// input (a non-zero view offset), and the plain convolution's forward and backward. Edge blocks:
// M and N not multiples of the register block. In the software profile each check runs with every
// adapter's register blocks (DIRECT_BLOCKS) and also checks that the named mode ran, with that
// block and those stores (and the weight gradient mode 'k' with its block), so each variant stays
// covered on both adapters.
const PRODUCT_CASES: { mode: 'n' | 'nk' | 'folded' | 'scalar'; vec4out: boolean; x: number[]; k: number; what: string }[] = [
  { mode: 'nk', vec4out: true, x: [2, 9, 4, 17], k: 7, what: 'N = 68 columns, vec4 along N and (K = 8) along K' },
  { mode: 'n', vec4out: true, x: [2, 10, 4, 17], k: 7, what: 'K = 9: vec4 along N only' },
  { mode: 'n', vec4out: false, x: [3, 10, 5, 4], k: 12, what: '20 columns: computed transposed, epilogue per column' },
  { mode: 'nk', vec4out: true, x: [2, 9, 4, 4], k: 8, what: '16 columns (a 4x4 map), M = K = 8: both sides vec4, so not transposed' },
  { mode: 'folded', vec4out: false, x: [2, 10, 5, 3], k: 7, what: '15 columns, M = 7: images folded into the columns' },
  { mode: 'scalar', vec4out: false, x: [2, 10, 9, 9], k: 6, what: '81 columns: no vec4 side' },
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
    const blockSets = target.profile === 'software' ? Object.entries(DIRECT_BLOCKS) : [['profile', undefined] as const];
    it("takes its adapter's register blocks (the profile's directBlocks, from the adapter's description)", async () => {
      const gpu = ((await targetBackend(target)) as GpuBackend).gpu;
      expect(gpu.profile.directBlocks).toEqual(DIRECT_BLOCKS[target.adapter.includes('swiftshader') ? 'swiftshader' : 'llvmpipe']);
    });
    for (const { mode, vec4out, x, k, what } of PRODUCT_CASES) {
      for (const [blocksOf, directBlocks] of blockSets) {
        for (const check of productChecks(x, k)) {
          it(`${check.name} [${x}] -> ${k} (${mode}${vec4out ? ', vec4 stores' : ''}, ${blocksOf} blocks: ${what})`, async () => {
            const backend = (await targetBackend(target, directBlocks ? { directBlocks } : {})) as GpuBackend;
            const ran = await passesRecording(check, backend);
            if (target.profile !== 'software') return;
            const blocks = directBlocks ?? backend.gpu.profile.directBlocks;
            const block = mode === 'folded' ? [4, 8] : blocks[mode];
            expect(ran.some((key) => key.startsWith(`matmul_direct_${mode}(${block.join(',')},${vec4out},`))).toBe(true);
            // The weight gradient sums over the H x W pixels: mode 'k' (both operands vec4 along them) when they come in whole quads.
            if (check.name.endsWith('.backward.w'))
              expect(ran.some((key) => key.startsWith(`matmul_direct_k(${blocks.k.join(',')},`))).toBe((x[2] * x[3]) % 4 === 0);
          });
        }
      }
    }
  });
}
