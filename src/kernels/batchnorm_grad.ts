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

import { type Gpu, memoKernel } from '../gpu/context.js';
import {
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

/** dx over inputs g, x, a, b, d (and y with relu): for backends that apply the coefficients separately. */
export function batchNormInputGrad(relu: boolean): Expr {
  const g = relu ? E.mul(E.in(0), E.step(E.in(5))) : E.in(0);
  return E.add(E.add(E.mul(E.in(2), g), E.mul(E.in(3), E.in(1))), E.in(4));
}

const G = planeOperand('g');
const X = planeOperand('x');
const Y = planeOperand('y');
const DX = planeOperand('dx');
const STATS = channelRowsOperand('stats');
const COEF = channelRowsOperand('coef');
const D_WEIGHT = channelOperand('dWeight');
const D_BIAS = channelOperand('dBias');

/**
 * The ReLU mask of a ReLU fused into the forward pass: none, y > 0 (y read), or 'affine':
 * fma(x, scale, shift) > 0 with the stats' scale and shift, which is y > 0 bit for bit where the
 * serial statistics kernel wrote y (batchnorm_stats.ts computes y = max(fma(x, scale, shift), 0)
 * from the very numbers it stores), so y is not read: two loads per position instead of three.
 */
export type ReluMask = 'none' | 'y' | 'affine';

/** The plane operands a kernel reads: g and x, and y when it masks by y. */
const inputs = (mask: ReluMask) => (mask === 'y' ? [G, X, Y] : [G, X]);
const inputNames = (mask: ReluMask) => (mask === 'y' ? ['g', 'x', 'y'] : ['g', 'x']);

/** The masked gradient at the current position. */
function maskedGrad(mask: ReluMask): string {
  if (mask === 'y') return 'let grad = select(0.0, g[gI], y[yI] > 0.0);';
  return mask === 'affine' ? 'let grad = select(0.0, g[gI], fma(x[xI], scale, shift) > 0.0);' : 'let grad = g[gI];';
}

/** WGSL reading the channel's forward numbers every phase uses. */
const channelStats = `let mean = ${channelAt('stats', '0u')};
  let invStd = ${channelAt('stats', '1u')};
  let scale = ${channelAt('stats', '2u')};
  let shift = ${channelAt('stats', '3u')};`;

/** This invocation's sums of g' and g' (x - mean) over its positions. */
function ownSums(walk: ChannelWalk, mask: ReluMask): string {
  return channelSums(walk, inputNames(mask), maskedGrad(mask), [
    { name: 'sg', add: (acc) => `${acc} += grad;` },
    { name: 'sgx', add: (acc) => `${acc} = fma(grad, x[xI] - mean, ${acc});` },
  ]);
}

/** The partial phase (serial, several slices): each slice's sums. */
const partialKernel = memoKernel('batchnorm_grad_partial', (mask: ReluMask, workgroup: number) => {
  const walk = { serial: true, workgroup };
  const views = [...inputs(mask), STATS, PARTIAL];
  return {
    params: ['N', 'HW', 'C', ...SPLIT_PARAMS, ...views.flatMap((v) => v.params)],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> partial: array<f32>;
${mask === 'y' ? '@group(0) @binding(5) var<storage, read> y: array<f32>;' : ''}

${views.map((v) => v.wgsl).join('')}
${channelMain(walk, `${channelStats}\n  ${ownSums(walk, mask)}\n  ${storePartials(['sg', 'sgx'])}`)}
`,
  };
});

/**
 * The sums (or, in the finish phase, the slices' partial sums), dWeight and dBias, and dx or its
 * coefficients. `shared`: dWeight and dBias are views of one buffer (an optimizer's gradient arena),
 * bound once, since writable bindings must not alias.
 */
const kernel = memoKernel(
  'batchnorm_grad',
  (training: boolean, mask: ReluMask, out: 'dx' | 'coef', shared: boolean, serial: boolean, workgroup: number, phase: 'whole' | 'finish') => {
    const walk = { serial, workgroup };
    const grad = maskedGrad(mask);
    const readsY = mask === 'y';
    // b = d = 0 in evaluation (x is read all the same: every phase binds it).
    const dxValue = 'fma(scale, grad, fma(b, x[xI], d))';
    const views = [...inputs(mask), STATS, D_WEIGHT, D_BIAS, out === 'dx' ? DX : COEF, ...(phase === 'finish' ? [PARTIAL] : [])];
    return {
      params: ['N', 'HW', 'C', 'count', ...SPLIT_PARAMS, ...views.flatMap((v) => v.params)],
      wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> dWeight: array<f32>;
${shared ? '' : '@group(0) @binding(5) var<storage, read_write> dBias: array<f32>;'}
@group(0) @binding(${6 - Number(shared)}) var<storage, read_write> ${out}: array<f32>;
${readsY ? `@group(0) @binding(${7 - Number(shared)}) var<storage, read> y: array<f32>;` : ''}
${phase === 'finish' ? `@group(0) @binding(${7 + Number(readsY) - Number(shared)}) var<storage, read> partial: array<f32>;` : ''}

${views.map((v) => v.wgsl).join('')}
${phase === 'whole' ? channelSumDeclarations(walk, 2) : ''}
${channelMain(
  walk,
  `${channelStats}
  ${phase === 'whole' ? ownSums(walk, mask) : ''}
  ${channelTotals(walk, phase, 'sums', ['sg', 'sgx'])}
  let sumG = sums[0];
  let sumGx = sums[1];
  ${
    training
      ? `let count = f32(P.count);
  let b = -scale * invStd * invStd * sumGx / count;
  let d = -b * mean - scale * sumG / count;`
      : `let b = 0.0;
  let d = 0.0;`
  }
  if (${channelLeader(walk)}) {
    ${shared ? 'dWeight[dBiasAt(dBiasBase(), c)]' : channelAt('dBias')} = sumG;
    ${channelAt('dWeight')} = sumGx * invStd;
    ${
      out === 'coef'
        ? `${channelAt('coef', '0u')} = scale;
    ${channelAt('coef', '1u')} = b;
    ${channelAt('coef', '2u')} = d;`
        : ''
    }
  }
  ${out === 'dx' ? channelPositions(walk, [...inputNames(mask), 'dx'], `${grad}\n      dx[dxI] = ${dxValue};`) : ''}`,
)}
`,
    };
  },
);

export interface BatchNormGradArgs {
  N: number;
  C: number;
  HW: number;
  training: boolean;
  /** [N, C, S] each (H and W merged). */
  g: View;
  x: View;
  /** With a ReLU fused into the forward pass, how g is masked: by y > 0 (the forward output), or 'affine' (see ReluMask); null without ReLU. */
  relu: { y: View } | 'affine' | null;
  /** [4, C]: the forward's mean, invstd, scale, shift. */
  stats: View;
  /** Either dx (in a buffer of its own), or [3, C]: a, b, d of dx = a g' + b x + d. */
  out: { dx: View } | { coef: View };
  /** [C] each. */
  dWeight: View;
  dBias: View;
}

export function batchNormGrad(gpu: Gpu, a: BatchNormGradArgs): void {
  const split = channelSplit(gpu, a.N, a.HW);
  const dx = 'dx' in a.out ? a.out.dx : null;
  const coef = 'coef' in a.out ? a.out.coef : null;
  const y = a.relu !== null && a.relu !== 'affine' ? a.relu.y : null;
  const mask: ReluMask = a.relu === null ? 'none' : y ? 'y' : 'affine';
  const shared = a.dWeight.binding.buffer === a.dBias.binding.buffer;
  const steps = phases(split);
  const partial = steps.length > 1 ? gpu.pool.acquire(a.C * split.slices * 2 * 4) : null;
  const values = {
    N: a.N,
    HW: a.HW,
    C: a.C,
    count: a.N * a.HW,
    ...splitValues(split),
    ...G.values(a.g),
    ...X.values(a.x),
    ...(y ? Y.values(y) : {}),
    ...(dx ? DX.values(dx) : {}),
    ...(coef ? COEF.values(coef) : {}),
    ...STATS.values(a.stats),
    ...D_WEIGHT.values(a.dWeight),
    ...D_BIAS.values(a.dBias),
    ...(partial ? PARTIAL.values(partialView(partial, a.C, 2)) : {}),
  };
  const groups: [number] = [channelGroups(split, a.C)];
  for (const phase of steps) {
    const k =
      phase === 'partial' ? partialKernel(mask, split.workgroup) : kernel(a.training, mask, dx ? 'dx' : 'coef', shared, split.serial, split.workgroup, phase);
    const bindings =
      phase === 'partial'
        ? [a.g.binding, a.x.binding, a.stats.binding, { buffer: partial! }]
        : [a.g.binding, a.x.binding, a.stats.binding, a.dWeight.binding, ...(shared ? [] : [a.dBias.binding]), dx?.binding ?? coef!.binding];
    if (y) bindings.push(y.binding);
    if (phase === 'finish') bindings.push({ buffer: partial! });
    gpu.run(k, bindings, groups, phaseValues(k, values));
  }
  if (partial) gpu.pool.release(partial);
}
