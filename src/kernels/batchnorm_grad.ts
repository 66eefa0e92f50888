// Batch-norm backward: for channel c, with g' the output gradient (masked by y > 0 when a ReLU was
// fused into the forward pass), M = N*H*W and the forward's stats:
//   dBias[c] = sum g'            dWeight[c] = invstd * sum g' (x - mean)
//   dx = a g' + b x + d, with
//   training:   a = scale, b = -scale invstd^2 sum g'(x - mean) / M, d = -b mean - scale sum g' / M
//   evaluation: a = scale, b = 0, d = 0
// Either the kernel writes dx itself (`dx`), or it writes the coefficients [a, b, d] per channel
// (`coef`) for an element-wise kernel to apply (batchNormInputGrad).
//
// Tiling: a workgroup per channel, or one invocation per channel for short channels on software
// adapters (batchnorm_common.ts); each invocation keeps both sums over its positions, the channel's
// totals (a workgroup sum where a workgroup shares the channel) give every invocation the
// coefficients, the first writes the channel's numbers, and with `dx` all of them walk their
// positions again (from cache: a channel of a batch is small) writing dx.

import type { Gpu, Kernel } from '../gpu/context.js';
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

/** dx over inputs g, x, a, b, d (and y with relu): for backends that apply the coefficients separately. */
export function batchNormInputGrad(relu: boolean): Expr {
  const g = relu ? E.mul(E.in(0), E.step(E.in(5))) : E.in(0);
  return E.add(E.add(E.mul(E.in(2), g), E.mul(E.in(3), E.in(1))), E.in(4));
}

interface Variant {
  training: boolean;
  relu: boolean;
  /** What the kernel writes besides dWeight and dBias: dx itself, or its coefficients. */
  out: 'dx' | 'coef';
  split: ChannelSplit;
  phase: Phase;
  /** dWeight and dBias are views of one buffer (an optimizer's gradient arena), bound once: writable bindings must not alias. */
  shared: boolean;
}

const PARAMS = ['N', 'HW', 'C', 'count', ...SPLIT_PARAMS, ...planeParams('g'), ...planeParams('x'), ...planeParams('y'), ...planeParams('dx')];

/** The masked gradient at the current position. */
const maskedGrad = (relu: boolean) => (relu ? 'let grad = select(0.0, g[gAt], y[yAt] > 0.0);' : 'let grad = g[gAt];');

/** This invocation's sums of g' and g' (x - mean) over its positions. */
function ownSums(split: ChannelSplit, relu: boolean): string {
  return channelSums(split, relu ? ['g', 'x', 'y'] : ['g', 'x'], maskedGrad(relu), [
    { name: 'sg', add: (acc) => `${acc} += grad;` },
    { name: 'sgx', add: (acc) => `${acc} = fma(grad, x[xAt] - mean, ${acc});` },
  ]);
}

/** The partial phase: each slice's sums. */
function partialKernel(split: ChannelSplit, relu: boolean): Kernel {
  return {
    name: `batchnorm_grad${relu ? '_relu' : ''}_partial_serial`,
    params: [...PARAMS, 'statsOff'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;
${relu ? '@group(0) @binding(5) var<storage, read> y: array<f32>;' : ''}

${channelMain(split, `let mean = stats[P.statsOff + c];\n  ${ownSums(split, relu)}\n  ${storePartials(['sg', 'sgx'])}`)}
`,
  };
}

function kernel(v: Variant): Kernel {
  const { training, relu, out, split, phase, shared } = v;
  if (phase === 'partial') return partialKernel(split, relu);
  const views = relu ? ['g', 'x', 'y'] : ['g', 'x'];
  const grad = maskedGrad(relu);
  // b = d = 0 in evaluation (x is read all the same: every phase binds it).
  const dxValue = 'fma(scale, grad, fma(b, x[xAt], d))';
  return {
    name: `batchnorm_grad${relu ? '_relu' : ''}${training ? '' : '_eval'}${out === 'dx' ? '_dx' : ''}${split.serial ? '_serial' : ''}${phase === 'finish' ? '_finish' : ''}`,
    params: [...PARAMS, 'statsOff', 'coefOff', 'dwOff', 'dbOff'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> dWeight: array<f32>;
${shared ? '' : '@group(0) @binding(5) var<storage, read_write> dBias: array<f32>;'}
@group(0) @binding(${6 - Number(shared)}) var<storage, read_write> ${out}: array<f32>;
${relu ? `@group(0) @binding(${7 - Number(shared)}) var<storage, read> y: array<f32>;` : ''}
${phase === 'finish' ? `@group(0) @binding(${7 + Number(relu) - Number(shared)}) var<storage, read> partial: array<f32>;` : ''}

${phase === 'whole' ? channelSumDeclarations(split, 2) : ''}
${channelMain(
  split,
  `let mean = stats[P.statsOff + c];
  ${phase === 'whole' ? ownSums(split, relu) : ''}
  ${channelTotals(split, phase, 'sums', ['sg', 'sgx'])}
  let sumG = sums[0];
  let sumGx = sums[1];
  let invStd = stats[P.statsOff + P.C + c];
  let scale = stats[P.statsOff + 2u * P.C + c];
  ${
    training
      ? `let count = f32(P.count);
  let b = -scale * invStd * invStd * sumGx / count;
  let d = -b * mean - scale * sumG / count;`
      : `let b = 0.0;
  let d = 0.0;`
  }
  if (${channelLeader(split)}) {
    ${shared ? 'dWeight' : 'dBias'}[P.dbOff + c] = sumG;
    dWeight[P.dwOff + c] = sumGx * invStd;
    ${
      out === 'coef'
        ? `coef[P.coefOff + c] = scale;
    coef[P.coefOff + P.C + c] = b;
    coef[P.coefOff + 2u * P.C + c] = d;`
        : ''
    }
  }
  ${out === 'dx' ? channelPositions(split, [...views, 'dx'], `${grad}\n      dx[dxAt] = ${dxValue};`) : ''}`,
)}
`,
  };
}

export interface BatchNormGradArgs {
  N: number;
  C: number;
  HW: number;
  training: boolean;
  g: PlaneView;
  x: PlaneView;
  /** The forward output, whose sign masks g when a ReLU was fused in; null without ReLU. */
  y: PlaneView | null;
  stats: ChannelView;
  /** Either dx (in a buffer of its own), or [3, C]: a, b, d of dx = a g' + b x + d. */
  out: { dx: PlaneView } | { coef: ChannelView };
  dWeight: ChannelView;
  dBias: ChannelView;
}

export function batchNormGrad(gpu: Gpu, a: BatchNormGradArgs): void {
  const split = channelSplit(gpu, a.N, a.HW);
  const dx = 'dx' in a.out ? a.out.dx : null;
  const coef = 'coef' in a.out ? a.out.coef : null;
  const relu = a.y !== null;
  const shared = a.dWeight.binding.buffer === a.dBias.binding.buffer;
  const values = {
    N: a.N,
    HW: a.HW,
    C: a.C,
    count: a.N * a.HW,
    ...splitValues(split),
    ...planeValues('g', a.g),
    ...planeValues('x', a.x),
    ...planeValues('y', a.y),
    ...planeValues('dx', dx),
    statsOff: a.stats.off,
    coefOff: coef?.off ?? 0,
    dwOff: a.dWeight.off,
    dbOff: a.dBias.off,
  };
  const groups: [number] = [channelGroups(split, a.C)];
  const steps = phases(split);
  const partial = steps.length > 1 ? gpu.pool.acquire(a.C * split.slices * 2 * 4) : null;
  for (const phase of steps) {
    const variant: Variant = { training: a.training, relu, out: dx ? 'dx' : 'coef', split, phase, shared };
    const bindings =
      phase === 'partial'
        ? [a.g.binding, a.x.binding, a.stats.binding, { buffer: partial! }]
        : [a.g.binding, a.x.binding, a.stats.binding, a.dWeight.binding, ...(shared ? [] : [a.dBias.binding]), dx?.binding ?? coef!.binding];
    if (a.y) bindings.push(a.y.binding);
    if (phase === 'finish') bindings.push({ buffer: partial! });
    const k = kernel(variant);
    gpu.run(k, bindings, groups, phaseValues(k, values));
  }
  if (partial) gpu.pool.release(partial);
}
