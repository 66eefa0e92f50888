// Batch-norm statistics, the per-channel affine they imply and, optionally, its application, in one
// kernel. For channel c:
//   training:   mean, biased variance over N, H, W; the running mean and the unbiased running
//               variance updated in place with `momentum` (as torch.nn.functional.batch_norm)
//   evaluation: mean and variance are the running statistics
// then stats[0][c] = mean, stats[1][c] = invstd = 1/sqrt(var + eps), stats[2][c] = scale =
// weight * invstd, stats[3][c] = shift = bias - mean * scale, and with `apply`
// y = relu?(x * scale + shift) over the channel (the normalisation in the same dispatch).
//
// Tiling: a workgroup per channel, or one invocation per channel for short channels on software
// adapters and for evaluation statistics alone (batchnorm_common.ts). In training each invocation
// sums its positions relative to the channel's first value, which keeps the squares small without a
// division per element; the channel's totals (a workgroup sum where a workgroup shares the channel)
// give every invocation the statistics (one invocation holding a whole channel takes the variance
// from a second pass over the squared deviations from the mean instead, from its cache), the first
// writes them, and with `apply` all of them then walk their positions again writing y.

import { f32bits, type Gpu, memoKernel } from '../gpu/context.js';
import {
  type ChannelSplit,
  type ChannelWalk,
  channelAt,
  channelGroups,
  channelLeader,
  channelMain,
  channelOperand,
  channelPositions,
  channelRowsOperand,
  channelSplit,
  channelSums,
  channelSumDeclarations,
  channelTotals,
  PARTIAL,
  partialView,
  phases,
  phaseValues,
  planeOperand,
  SPLIT_PARAMS,
  splitValues,
  storePartials,
} from './batchnorm_common.js';
import { E, type Expr } from './expr.js';
import type { View } from './view.js';

/** y of the affine the stats define, over inputs x, scale, shift: for backends that apply it separately. */
export function batchNormAffine(relu: boolean): Expr {
  const affine = E.add(E.mul(E.in(0), E.in(1)), E.in(2));
  return relu ? E.relu(affine) : affine;
}

const X = planeOperand('x');
const Y = planeOperand('y');
const WEIGHT = channelOperand('weight');
const BIAS = channelOperand('bias');
const RUNNING_MEAN = channelOperand('runningMean');
const RUNNING_VAR = channelOperand('runningVar');
const STATS = channelRowsOperand('stats');

/** What a kernel writes besides the statistics: nothing, y = x * scale + shift, or its ReLU. */
type Apply = 'none' | 'affine' | 'relu';

/** This invocation's sums of x - first over its positions (first: the channel's first value), and of their squares unless `squares` is false. */
function ownSums(walk: ChannelWalk, squares = true): string {
  return /* wgsl */ `let first = x[xAt(xBase(0u, c), 0u)];
  ${channelSums(walk, ['x'], 'let d = x[xI] - first;', [
    { name: 'sum', add: (acc) => `${acc} += d;` },
    ...(squares ? [{ name: 'squares', add: (acc: string) => `${acc} = fma(d, d, ${acc});` }] : []),
  ])}`;
}

/** The partial phase (serial, several slices): each slice's sums. */
const partialKernel = memoKernel('batchnorm_stats_partial', (workgroup: number) => ({
  params: ['N', 'HW', 'C', ...SPLIT_PARAMS, ...X.params, ...PARTIAL.params],
  wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;

${X.wgsl}${PARTIAL.wgsl}
${channelMain({ serial: true, workgroup }, `${ownSums({ serial: true, workgroup })}\n  ${storePartials(['sum', 'squares'])}`)}
`,
}));

/** The statistics (from the data, or from the partial sums in the finish phase), the running statistics, and y with `apply`. */
const kernel = memoKernel('batchnorm_stats', (training: boolean, apply: Apply, serial: boolean, workgroup: number, phase: 'whole' | 'finish') => {
  const walk = { serial, workgroup };
  const readsX = training || apply !== 'none';
  // One invocation holds the channel in its cache: the variance from a second pass over the squared deviations.
  const twoPass = serial && phase === 'whole';
  const moments = training
    ? /* wgsl */ `
  ${phase === 'finish' ? 'let first = x[xAt(xBase(0u, c), 0u)];' : ownSums(walk, !twoPass)}
  ${channelTotals(walk, phase, 'sums', twoPass ? ['sum'] : ['sum', 'squares'])}
  let total = f32(P.N * P.HW);
  let mean = first + sums[0] / total;
  ${
    twoPass
      ? `${channelSums(walk, ['x'], 'let e = x[xI] - mean;', [{ name: 'deviations', add: (acc) => `${acc} = fma(e, e, ${acc});` }])}
  let variance = deviations / total;`
      : 'let variance = max((sums[1] - sums[0] * sums[0] / total) / total, 0.0);'
  }`
    : /* wgsl */ `
  let mean = ${channelAt('runningMean')};
  let variance = ${channelAt('runningVar')};`;
  const runningUpdate = /* wgsl */ `
    let momentum = bitcast<f32>(P.momentum);
    ${channelAt('runningMean')} = (1.0 - momentum) * ${channelAt('runningMean')} + momentum * mean;
    ${channelAt('runningVar')} = (1.0 - momentum) * ${channelAt('runningVar')} + momentum * variance * total / (total - 1.0);`;
  const value = apply === 'relu' ? 'max(fma(x[xI], scale, shift), 0.0)' : 'fma(x[xI], scale, shift)';
  const views = [
    WEIGHT,
    BIAS,
    RUNNING_MEAN,
    RUNNING_VAR,
    STATS,
    ...(readsX ? [X] : []),
    ...(apply !== 'none' ? [Y] : []),
    ...(phase === 'finish' ? [PARTIAL] : []),
  ];
  const partialBinding = 6 + Number(readsX) + Number(apply !== 'none');
  return {
    params: ['N', 'HW', 'C', ...SPLIT_PARAMS, ...views.flatMap((v) => v.params), 'momentum', 'eps'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(4) var<storage, read_write> runningVar: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
${readsX ? '@group(0) @binding(6) var<storage, read> x: array<f32>;' : ''}
${apply !== 'none' ? '@group(0) @binding(7) var<storage, read_write> y: array<f32>;' : ''}
${phase === 'finish' ? `@group(0) @binding(${partialBinding}) var<storage, read> partial: array<f32>;` : ''}

${views.map((v) => v.wgsl).join('')}
${training && phase === 'whole' ? channelSumDeclarations(walk, 2) : ''}

${channelMain(
  walk,
  `${moments}
  let invStd = inverseSqrt(variance + bitcast<f32>(P.eps));
  let scale = ${channelAt('weight')} * invStd;
  let shift = ${channelAt('bias')} - mean * scale;
  if (${channelLeader(walk)}) {
    ${channelAt('stats', '0u')} = mean;
    ${channelAt('stats', '1u')} = invStd;
    ${channelAt('stats', '2u')} = scale;
    ${channelAt('stats', '3u')} = shift;${training ? runningUpdate : ''}
  }
  ${apply !== 'none' ? channelPositions(walk, ['x', 'y'], `y[yI] = ${value};`) : ''}`,
)}
`,
  };
});

export interface BatchNormStatsArgs {
  N: number;
  C: number;
  HW: number;
  training: boolean;
  /** The input [N, C, S] (H and W merged; needed in training and with y). */
  x: View | null;
  /** The output y = relu?(x * scale + shift), in another buffer than x; null for the statistics alone. */
  y: View | null;
  relu: boolean;
  /** [C] each. */
  weight: View;
  bias: View;
  runningMean: View;
  runningVar: View;
  /** [4, C]: mean, invstd, scale, shift. */
  stats: View;
  momentum: number;
  eps: number;
}

export function batchNormStats(gpu: Gpu, a: BatchNormStatsArgs): void {
  const apply: Apply = a.y ? (a.relu ? 'relu' : 'affine') : 'none';
  if ((a.training || a.y) && !a.x) throw new Error('batchNormStats: training statistics and the affine need the input');
  if (a.y && a.x && a.y.binding.buffer === a.x.binding.buffer) throw new Error('batchNormStats: the output must not share the input buffer');
  // Evaluation statistics alone read no data: one invocation per channel.
  const split: ChannelSplit =
    a.training || a.y ? channelSplit(gpu, a.N, a.HW) : { serial: true, workgroup: gpu.profile.workgroup, slices: 1, imagesPerSlice: a.N };
  const steps = a.training ? phases(split) : ['whole' as const];
  const partial = steps.length > 1 ? gpu.pool.acquire(a.C * split.slices * 2 * 4) : null;
  const values = {
    N: a.N,
    HW: a.HW,
    C: a.C,
    ...splitValues(split),
    ...(a.x ? X.values(a.x) : {}),
    ...(a.y ? Y.values(a.y) : {}),
    ...WEIGHT.values(a.weight),
    ...BIAS.values(a.bias),
    ...RUNNING_MEAN.values(a.runningMean),
    ...RUNNING_VAR.values(a.runningVar),
    ...STATS.values(a.stats),
    ...(partial ? PARTIAL.values(partialView(partial, a.C, 2)) : {}),
    momentum: f32bits(a.momentum),
    eps: f32bits(a.eps),
  };
  const groups: [number] = [channelGroups(split, a.C)];
  for (const phase of steps) {
    if (phase === 'partial') {
      const k = partialKernel(split.workgroup);
      gpu.run(k, [a.x!.binding, { buffer: partial! }], groups, phaseValues(k, values));
      continue;
    }
    const k = kernel(a.training, apply, split.serial, split.workgroup, phase);
    const bindings = [a.weight.binding, a.bias.binding, a.runningMean.binding, a.runningVar.binding, a.stats.binding];
    if (a.x && (a.training || a.y)) bindings.push(a.x.binding);
    if (a.y) bindings.push(a.y.binding);
    if (partial) bindings.push({ buffer: partial });
    gpu.run(k, bindings, groups, phaseValues(k, values));
  }
  if (partial) gpu.pool.release(partial);
}
