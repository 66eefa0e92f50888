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
// give every invocation the statistics, the first writes them, and with `apply` all of them then
// walk their positions again (from cache: a channel of a batch is small) writing y.

import type { Gpu, Kernel } from '../gpu/context.js';
import { f32bits } from '../gpu/context.js';
import {
  type ChannelSplit,
  type ChannelView,
  channelGroups,
  channelLeader,
  channelMain,
  channelPositions,
  channelSplit,
  channelSums,
  channelSumDeclarations,
  channelTotals,
  type Phase,
  type PlaneView,
  phases,
  phaseValues,
  planeParams,
  planeValues,
  SPLIT_PARAMS,
  splitValues,
  storePartials,
} from './batchnorm_common.js';
import { E, type Expr } from './expr.js';

/** y of the affine the stats define, over inputs x, scale, shift: for backends that apply it separately. */
export function batchNormAffine(relu: boolean): Expr {
  const affine = E.add(E.mul(E.in(0), E.in(1)), E.in(2));
  return relu ? E.relu(affine) : affine;
}

interface Variant {
  training: boolean;
  /** Write y (ReLU or not); null for the statistics alone. */
  apply: { relu: boolean } | null;
  split: ChannelSplit;
  phase: Phase;
}

/** This invocation's sums of x - first over its positions (first: the channel's first value). */
function ownSums(split: ChannelSplit): string {
  return /* wgsl */ `let first = x[P.xOff + c * P.xC];
  ${channelSums(split, ['x'], 'let d = x[xAt] - first;', [
    { name: 'sum', add: (acc) => `${acc} += d;` },
    { name: 'squares', add: (acc) => `${acc} = fma(d, d, ${acc});` },
  ])}`;
}

/** The partial phase: each slice's sums. */
function partialKernel(split: ChannelSplit): Kernel {
  return {
    name: 'batchnorm_train_partial_serial',
    params: ['N', 'HW', 'C', ...SPLIT_PARAMS, ...planeParams('x')],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> partial: array<f32>;

${channelMain(split, `${ownSums(split)}\n  ${storePartials(['sum', 'squares'])}`)}
`,
  };
}

function kernel(v: Variant): Kernel {
  const { training, apply, split, phase } = v;
  if (phase === 'partial') return partialKernel(split);
  const moments = training
    ? /* wgsl */ `
  ${phase === 'finish' ? 'let first = x[P.xOff + c * P.xC];' : ownSums(split)}
  ${channelTotals(split, phase, 'sums', ['sum', 'squares'])}
  let total = f32(P.N * P.HW);
  let mean = first + sums[0] / total;
  ${
    split.serial && phase === 'whole'
      ? `// One invocation holds the channel in its cache: a second pass for the squared deviations.
  ${channelSums(split, ['x'], 'let e = x[xAt] - mean;', [{ name: 'deviations', add: (acc) => `${acc} = fma(e, e, ${acc});` }])}
  let variance = deviations / total;`
      : 'let variance = max((sums[1] - sums[0] * sums[0] / total) / total, 0.0);'
  }`
    : /* wgsl */ `
  let mean = runningMean[P.rmOff + c];
  let variance = runningVar[P.rvOff + c];`;
  const runningUpdate = /* wgsl */ `
    let momentum = bitcast<f32>(P.momentum);
    runningMean[P.rmOff + c] = (1.0 - momentum) * runningMean[P.rmOff + c] + momentum * mean;
    runningVar[P.rvOff + c] = (1.0 - momentum) * runningVar[P.rvOff + c] + momentum * variance * total / (total - 1.0);`;
  const value = apply?.relu ? 'max(fma(x[xAt], scale, shift), 0.0)' : 'fma(x[xAt], scale, shift)';
  const serial = split.serial && (training || apply) ? '_serial' : '';
  const name = `batchnorm_${training ? 'train' : 'eval'}${apply ? `_apply${apply.relu ? '_relu' : ''}` : '_stats'}${serial}${phase === 'finish' ? '_finish' : ''}`;
  const partialBinding = 6 + (training || apply ? 1 : 0) + (apply ? 1 : 0);
  return {
    name,
    params: ['N', 'HW', 'C', ...SPLIT_PARAMS, ...planeParams('x'), ...planeParams('y'), 'wOff', 'bOff', 'rmOff', 'rvOff', 'statsOff', 'momentum', 'eps'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(4) var<storage, read_write> runningVar: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
${training || apply ? '@group(0) @binding(6) var<storage, read> x: array<f32>;' : ''}
${apply ? '@group(0) @binding(7) var<storage, read_write> y: array<f32>;' : ''}
${phase === 'finish' ? `@group(0) @binding(${partialBinding}) var<storage, read> partial: array<f32>;` : ''}

${training && phase === 'whole' ? channelSumDeclarations(split, 2) : ''}

${channelMain(
  split,
  `${moments}
  let invStd = inverseSqrt(variance + bitcast<f32>(P.eps));
  let scale = weight[P.wOff + c] * invStd;
  let shift = bias[P.bOff + c] - mean * scale;
  if (${channelLeader(split)}) {
    stats[P.statsOff + c] = mean;
    stats[P.statsOff + P.C + c] = invStd;
    stats[P.statsOff + 2u * P.C + c] = scale;
    stats[P.statsOff + 3u * P.C + c] = shift;${training ? runningUpdate : ''}
  }
  ${apply ? channelPositions(split, ['x', 'y'], `y[yAt] = ${value};`) : ''}`,
)}
`,
  };
}

export interface BatchNormStatsArgs {
  N: number;
  C: number;
  HW: number;
  training: boolean;
  /** The input (needed in training and with y). */
  x: PlaneView | null;
  /** The output y = relu?(x * scale + shift), in another buffer than x; null for the statistics alone. */
  y: PlaneView | null;
  relu: boolean;
  weight: ChannelView;
  bias: ChannelView;
  runningMean: ChannelView;
  runningVar: ChannelView;
  /** [4, C] contiguous: mean, invstd, scale, shift. */
  stats: ChannelView;
  momentum: number;
  eps: number;
}

export function batchNormStats(gpu: Gpu, a: BatchNormStatsArgs): void {
  const apply = a.y ? { relu: a.relu } : null;
  if ((a.training || apply) && !a.x) throw new Error('batchNormStats: training statistics and the affine need the input');
  if (a.y && a.x && a.y.binding.buffer === a.x.binding.buffer) throw new Error('batchNormStats: the output must not share the input buffer');
  // Evaluation statistics alone read no data: one invocation per channel.
  const split: ChannelSplit =
    a.training || apply ? channelSplit(gpu, a.N, a.HW) : { serial: true, workgroup: gpu.profile.workgroup, slices: 1, imagesPerSlice: a.N };
  const values = {
    N: a.N,
    HW: a.HW,
    C: a.C,
    ...splitValues(split),
    ...planeValues('x', a.x),
    ...planeValues('y', a.y),
    wOff: a.weight.off,
    bOff: a.bias.off,
    rmOff: a.runningMean.off,
    rvOff: a.runningVar.off,
    statsOff: a.stats.off,
    momentum: f32bits(a.momentum),
    eps: f32bits(a.eps),
  };
  const groups: [number] = [channelGroups(split, a.C)];
  const steps = a.training ? phases(split) : ['whole' as const];
  const partial = steps.length > 1 ? gpu.pool.acquire(a.C * split.slices * 2 * 4) : null;
  for (const phase of steps) {
    const k = kernel({ training: a.training, apply, split, phase });
    if (phase === 'partial') {
      gpu.run(k, [a.x!.binding, { buffer: partial! }], groups, phaseValues(k, values));
      continue;
    }
    const bindings = [a.weight.binding, a.bias.binding, a.runningMean.binding, a.runningVar.binding, a.stats.binding];
    if (a.x && (a.training || apply)) bindings.push(a.x.binding);
    if (a.y) bindings.push(a.y.binding);
    if (partial) bindings.push({ buffer: partial });
    gpu.run(k, bindings, groups, phaseValues(k, values));
  }
  if (partial) gpu.pool.release(partial);
}
