// Kernel throughput on the layer shapes of ShuffleNet V2 x1_0 (224x224 input, batch 8 and 32):
// matrix-product kernels in GFLOP/s against the best matrix multiply this adapter reaches, memory-bound
// kernels in GB/s against a plain copy, both ceilings measured in the same run. Beside them, naive
// one-invocation-per-output versions of the 1x1 and depthwise convolutions.

import type { Conv2dParams } from '#engine/backends/backend';
import type { GpuBackend } from '#engine/backends/gpu';
import { empty, full, intTensor } from '#engine/autograd/ops/creation';
import { concatShuffle, channelShuffle } from '#engine/autograd/ops/shape';
import type { Tensor } from '#engine/autograd/tensor';
import { E } from '#engine/kernels/expr';
import { matmul, type MatmulTiling, matrix } from '#engine/kernels/matmul';
import { EpilogueBindings } from '#engine/kernels/conv_common';
import type { KernelCase as Case } from './case.js';
import type { BenchContext } from './context.js';
import { naiveDepthwise, naivePointwise } from './naive.js';
import { table } from './report.js';
import { time } from './timing.js';

export interface KernelRow {
  kernel: string;
  shape: string;
  batch: number;
  medianMs: number;
  /** GFLOP/s for matrix products, GB/s for memory-bound kernels. */
  rate: number;
  unit: 'GFLOP/s' | 'GB/s';
  /** rate / the ceiling of the same unit measured on this adapter. */
  ofCeiling: number;
}

const conv = (stride: number, padding: number, groups: number): Conv2dParams => ({ stride: [stride, stride], padding: [padding, padding], groups });

function pointwiseCases(b: GpuBackend, N: number, cin: number, cout: number, hw: number, backward: boolean): Case[] {
  const shape = `${cin}->${cout} @ ${hw}x${hw}`;
  const flops = 2 * N * cin * cout * hw * hw;
  const x = () => full([N, cin, hw, hw], 0.5);
  const w = () => full([cout, cin, 1, 1], 0.01);
  const y = () => full([N, cout, hw, hw], 0.5);
  const cases: Case[] = [
    {
      kernel: 'conv 1x1',
      shape,
      batch: N,
      flops,
      setup: () => {
        const [xi, wi, yi] = [x(), w(), y()];
        return () => b.conv2d(xi, wi, yi, conv(1, 0, 1));
      },
    },
  ];
  if (backward) {
    cases.push({
      kernel: 'conv 1x1 backward input',
      shape,
      batch: N,
      flops,
      setup: () => {
        const [dx, wi, dy] = [x(), w(), y()];
        return () => b.conv2dGradInput(dy, wi, dx, conv(1, 0, 1));
      },
    });
    cases.push({
      kernel: 'conv 1x1 backward weight',
      shape,
      batch: N,
      flops,
      setup: () => {
        const [xi, dw, dy] = [x(), w(), y()];
        return () => b.conv2dGradWeight(dy, xi, dw, conv(1, 0, 1));
      },
    });
  }
  return cases;
}

function depthwiseCases(b: GpuBackend, N: number, c: number, hw: number, stride: number): Case[] {
  const out = Math.floor((hw + 2 - 3) / stride) + 1;
  const shape = `${c} @ ${hw}x${hw} s${stride}`;
  const bytes = 4 * N * c * (hw * hw + out * out);
  const x = () => full([N, c, hw, hw], 0.5);
  const w = () => full([c, 1, 3, 3], 0.1);
  const y = () => full([N, c, out, out], 0.5);
  const p = conv(stride, 1, c);
  return [
    {
      kernel: 'depthwise 3x3',
      shape,
      batch: N,
      bytes,
      setup: () => {
        const [xi, wi, yi] = [x(), w(), y()];
        return () => b.conv2d(xi, wi, yi, p);
      },
    },
    {
      kernel: 'depthwise backward input',
      shape,
      batch: N,
      bytes,
      setup: () => {
        const [dx, wi, dy] = [x(), w(), y()];
        return () => b.conv2dGradInput(dy, wi, dx, p);
      },
    },
    {
      kernel: 'depthwise backward weight',
      shape,
      batch: N,
      bytes,
      setup: () => {
        const [xi, dw, dy] = [x(), w(), y()];
        return () => b.conv2dGradWeight(dy, xi, dw, p);
      },
    },
  ];
}

function memoryCases(b: GpuBackend, N: number, c: number, hw: number): Case[] {
  const shape = `${c} @ ${hw}x${hw}`;
  const plane = N * c * hw * hw;
  const t = () => full([N, c, hw, hw], 0.5);
  const v = () => full([c], 1);
  const perChannel = (u: Tensor) => u.view([N, c, hw, hw], [0, 1, 0, 0]);
  return [
    {
      kernel: 'batch norm statistics (+ running, affine)',
      shape,
      batch: N,
      bytes: 4 * plane,
      setup: () => {
        const [x, w, bias, rm, rv, stats] = [t(), v(), v(), v(), v(), full([4, c], 0)];
        return () => b.batchNormStats(x, w, bias, rm, rv, stats, { momentum: 0.1, eps: 1e-5 });
      },
    },
    {
      kernel: 'batch norm apply + ReLU (eval, train)',
      shape,
      batch: N,
      bytes: 8 * plane,
      setup: () => {
        const [x, y, s, h] = [t(), t(), v(), v()];
        return () => b.map(E.relu(E.add(E.mul(E.in(0), E.in(1)), E.in(2))), [x, perChannel(s), perChannel(h)], y);
      },
    },
    {
      kernel: 'batch norm + ReLU, training (statistics, then y)',
      shape,
      batch: N,
      bytes: 8 * plane,
      setup: () => {
        const [x, y, w, bias, rm, rv, stats] = [t(), t(), v(), v(), v(), v(), full([4, c], 0)];
        return () => b.batchNorm(x, w, bias, rm, rv, stats, y, { training: true, relu: true, momentum: 0.1, eps: 1e-5 });
      },
    },
    {
      kernel: 'batch norm + ReLU backward (sums, then dx)',
      shape,
      batch: N,
      bytes: 4 * plane * 7,
      setup: () => {
        const [g, y, x, dx, dw, db] = [t(), t(), t(), t(), v(), v()];
        const stats = full([4, c], 1);
        return () => b.batchNormGrad(g, x, y, stats, dx, dw, db, true);
      },
    },
    {
      kernel: 'fused element-wise add + ReLU',
      shape,
      batch: N,
      bytes: 12 * plane,
      setup: () => {
        const [x, z, y] = [t(), t(), t()];
        return () => b.map(E.relu(E.add(E.in(0), E.in(1))), [x, z], y);
      },
    },
    {
      kernel: 'concat + channel shuffle (fused)',
      shape: `2 x ${c / 2} @ ${hw}x${hw}`,
      batch: N,
      bytes: 8 * plane,
      setup: () => {
        const [x1, x2] = [full([N, c / 2, hw, hw], 0.5), full([N, c / 2, hw, hw], 0.5)];
        return () => void concatShuffle(x1, x2);
      },
    },
    {
      kernel: 'channel shuffle (unfused copy)',
      shape,
      batch: N,
      bytes: 8 * plane,
      setup: () => {
        const x = t();
        return () => void channelShuffle(x, 2);
      },
    },
  ];
}

function otherCases(b: GpuBackend, N: number, R: number): Case[] {
  const stemHw = R / 2;
  const poolHw = R / 4;
  const stem = conv(2, 1, 1);
  const linearFlops = 2 * N * 1024 * 1000;
  const as3 = (t: Tensor, shape: number[], strides: number[]) => t.view([1, ...shape], [0, ...strides]);
  return [
    {
      kernel: 'stem conv 3x3 s2',
      shape: `3->24 @ ${R}x${R}`,
      batch: N,
      flops: 2 * N * 24 * 27 * stemHw * stemHw,
      setup: () => {
        const [x, w, y] = [full([N, 3, R, R], 0.5), full([24, 3, 3, 3], 0.1), full([N, 24, stemHw, stemHw], 0)];
        return () => b.conv2d(x, w, y, stem);
      },
    },
    {
      kernel: 'stem conv backward weight',
      shape: `3->24 @ ${R}x${R}`,
      batch: N,
      flops: 2 * N * 24 * 27 * stemHw * stemHw,
      setup: () => {
        const [x, w, y] = [full([N, 3, R, R], 0.5), full([24, 3, 3, 3], 0.1), full([N, 24, stemHw, stemHw], 0)];
        return () => b.conv2dGradWeight(y, x, w, stem);
      },
    },
    {
      kernel: 'max pool 3x3 s2',
      shape: `24 @ ${stemHw}x${stemHw}`,
      batch: N,
      bytes: 4 * N * 24 * (stemHw * stemHw + 2 * poolHw * poolHw),
      setup: () => {
        const [x, y, i] = [full([N, 24, stemHw, stemHw], 0.5), full([N, 24, poolHw, poolHw], 0), empty([N, 24, poolHw, poolHw], 'int32')];
        return () => b.maxPool2d(x, y, i, { kernel: 3, stride: 2, padding: 1 });
      },
    },
    {
      kernel: 'max pool backward',
      shape: `24 @ ${stemHw}x${stemHw}`,
      batch: N,
      bytes: 4 * N * 24 * (stemHw * stemHw + 2 * poolHw * poolHw),
      setup: () => {
        const [dx, dy, i] = [
          full([N, 24, stemHw, stemHw], 0.5),
          full([N, 24, poolHw, poolHw], 0),
          intTensor(new Int32Array(N * 24 * poolHw * poolHw), [N, 24, poolHw, poolHw]),
        ];
        return () => b.maxPool2dGrad(dy, i, dx, { kernel: 3, stride: 2, padding: 1 });
      },
    },
    {
      kernel: 'linear',
      shape: '1024->1000',
      batch: N,
      flops: linearFlops,
      setup: () => {
        const [x, w, y] = [full([N, 1024], 0.5), full([1000, 1024], 0.01), full([N, 1000], 0)];
        return () => b.matmul(as3(w, [1000, 1024], [1024, 1]), as3(x, [1024, N], [1, 1024]), as3(y, [1000, N], [1, 1000]));
      },
    },
    {
      kernel: 'linear backward weight',
      shape: '1024->1000',
      batch: N,
      flops: linearFlops,
      setup: () => {
        const [x, w, g] = [full([N, 1024], 0.5), full([1000, 1024], 0.01), full([N, 1000], 0)];
        return () => b.matmul(as3(g, [1000, N], [1, 1000]), as3(x, [N, 1024], [1024, 1]), as3(w, [1000, 1024], [1024, 1]));
      },
    },
    {
      kernel: 'SGD update (x1_0 parameters)',
      shape: '1.26M',
      batch: N,
      bytes: 4 * 1_255_654 * 5,
      setup: () => {
        const [p, g, m] = [full([1_255_654], 0.5), full([1_255_654], 0.01), full([1_255_654], 0)];
        return () => b.sgdStep(p, g, m, { lr: 0.01, momentum: 0.9, weightDecay: 4e-5, firstStep: false });
      },
    },
  ];
}

/** The best GFLOP/s of our matrix multiplies on a square product: the default kernel for this adapter and a few forced tilings. */
async function matmulCeiling(ctx: BenchContext): Promise<number> {
  const n = ctx.smoke ? 128 : 1024;
  const gpu = ctx.backend.gpu;
  const [a, bm, c] = [full([n, n], 0.5), full([n, n], 0.5), full([n, n], 0)];
  const operand = (t: Tensor) => matrix({ buffer: t.storage.handle as GPUBuffer }, 0, n, 1);
  const tilings: (MatmulTiling | undefined)[] = [
    undefined,
    { TM: 64, TN: 64, TK: 16, RM: 8, RN: 8 },
    { TM: 64, TN: 128, TK: 16, RM: 8, RN: 8 },
    { TM: 32, TN: 64, TK: 16, RM: 4, RN: 8 },
  ];
  let best = 0;
  for (const tiling of tilings) {
    const t = await time(
      ctx.backend,
      () => matmul(gpu, { M: n, N: n, K: n, a: operand(a), b: operand(bm), c: operand(c), batches: 1, splits: 1, epilogue: new EpilogueBindings(), tiling }),
      ctx.timing,
    );
    best = Math.max(best, (2 * n ** 3) / t.medianMs / 1e6);
  }
  return best;
}

/** GB/s of a plain element-wise copy (read + write) of 64 MB. */
async function copyCeiling(ctx: BenchContext): Promise<number> {
  const n = ctx.smoke ? 1 << 16 : 1 << 24;
  const [x, y] = [full([n], 0.5), full([n], 0)];
  const t = await time(ctx.backend, () => ctx.backend.map(E.in(0), [x], y), ctx.timing);
  return (8 * n) / t.medianMs / 1e6;
}

export async function kernels(ctx: BenchContext): Promise<{ ceilings: { matmulGflops: number; copyGBps: number }; rows: KernelRow[] }> {
  const b = ctx.backend;
  const ceilings = { matmulGflops: await matmulCeiling(ctx), copyGBps: await copyCeiling(ctx) };
  const R = ctx.smoke ? 32 : 224;
  const batches = ctx.smoke ? [1] : [8, 32];
  const rows: KernelRow[] = [];
  for (const N of batches) {
    const cases: Case[] = [
      ...pointwiseCases(b, N, 24, 58, R / 4, false),
      ...pointwiseCases(b, N, 58, 58, R / 8, true),
      ...pointwiseCases(b, N, 116, 116, R / 8, true),
      ...pointwiseCases(b, N, 116, 116, R / 16, true),
      ...pointwiseCases(b, N, 232, 232, R / 32, true),
      ...pointwiseCases(b, N, 464, 1024, R / 32, false),
      ...depthwiseCases(b, N, 58, R / 8, 1),
      ...depthwiseCases(b, N, 116, R / 8, 1),
      ...depthwiseCases(b, N, 116, R / 8, 2),
      ...depthwiseCases(b, N, 232, R / 16, 2),
      ...memoryCases(b, N, 116, R / 8),
      ...otherCases(b, N, R),
      ...naivePointwise(b, N, 116, R / 8),
      ...naiveDepthwise(b, N, 116, R / 8),
    ];
    for (const c of cases) {
      const work = c.setup();
      const t = await time(b, work, ctx.timing);
      const rate = c.flops ? c.flops / t.medianMs / 1e6 : c.bytes! / t.medianMs / 1e6;
      rows.push({
        kernel: c.kernel,
        shape: c.shape,
        batch: c.batch,
        medianMs: t.medianMs,
        rate,
        unit: c.flops ? 'GFLOP/s' : 'GB/s',
        ofCeiling: rate / (c.flops ? ceilings.matmulGflops : ceilings.copyGBps),
      });
    }
  }
  return { ceilings, rows };
}

export function printKernels(result: Awaited<ReturnType<typeof kernels>>): void {
  console.log(
    `ceilings on this adapter: matrix multiply ${result.ceilings.matmulGflops.toFixed(2)} GFLOP/s, copy ${result.ceilings.copyGBps.toFixed(2)} GB/s\n`,
  );
  console.log(
    table(
      ['kernel', 'shape', 'batch', 'ms', 'rate', 'unit', 'of ceiling'],
      result.rows.map((r) => [r.kernel, r.shape, r.batch, r.medianMs, r.rate, r.unit, `${(100 * r.ofCeiling).toFixed(0)}%`]),
    ),
  );
  console.log();
}
