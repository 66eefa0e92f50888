// Batch-norm backward, the per-channel half: for channel c, with g' the output gradient (masked by
// y > 0 when a ReLU was fused into the forward pass), M = N*H*W and the forward's stats:
//   dBias[c] = sum g'            dWeight[c] = invstd * sum g' (x - mean)
// and the coefficients of dx = a g' + b x + d, computed by an element-wise kernel afterwards:
//   training:   a = scale, b = -scale invstd^2 sum g'(x - mean) / M, d = -b mean - scale sum g' / M
//   evaluation: a = scale, b = 0, d = 0
//
// Tiling: one workgroup per channel; invocations stride over the channel's positions (every image,
// plane positions lid, lid + WG, ...) keeping both sums, a workgroup sum of both (workgroup_reduce.ts),
// and invocation 0 writes the channel's five numbers.

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import type { ChannelView } from './batchnorm_stats.js';
import { blockSum } from './workgroup_reduce.js';

export interface PlaneView {
  binding: Binding;
  off: number;
  n: number;
  c: number;
  p: number;
}

/** `shared`: dWeight and dBias are views of one buffer (an optimizer's gradient arena), bound once (writable bindings must not alias). */
function kernel(training: boolean, relu: boolean, shared: boolean, workgroup: number): Kernel {
  return {
    name: `batchnorm_backward${relu ? '_relu' : ''}${training ? '' : '_eval'}`,
    params: ['N', 'HW', 'C', 'count', 'gOff', 'gN', 'gC', 'gP', 'xOff', 'xN', 'xC', 'xP', 'yOff', 'yN', 'yC', 'yP', 'statsOff', 'coefOff', 'dwOff', 'dbOff'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<f32>;
@group(0) @binding(4) var<storage, read_write> coef: array<f32>;
@group(0) @binding(5) var<storage, read_write> dWeight: array<f32>;
${shared ? '' : '@group(0) @binding(6) var<storage, read_write> dBias: array<f32>;'}
${relu ? `@group(0) @binding(${shared ? 6 : 7}) var<storage, read> y: array<f32>;` : ''}

${blockSum('workgroupSum', workgroup, 2, false)}
@compute @workgroup_size(${workgroup})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wg.x;
  let mean = stats[P.statsOff + c];
  var sg = 0.0;
  var sgx = 0.0;
  for (var n = 0u; n < P.N; n++) {
    let gPlane = P.gOff + n * P.gN + c * P.gC;
    let xPlane = P.xOff + n * P.xN + c * P.xC;
    ${relu ? 'let yPlane = P.yOff + n * P.yN + c * P.yC;' : ''}
    for (var p = lid; p < P.HW; p += ${workgroup}u) {
      ${relu ? 'let grad = select(0.0, g[gPlane + p * P.gP], y[yPlane + p * P.yP] > 0.0);' : 'let grad = g[gPlane + p * P.gP];'}
      sg += grad;
      sgx = fma(grad, x[xPlane + p * P.xP] - mean, sgx);
    }
  }
  let sums = workgroupSum(lid, array<f32, 2>(sg, sgx));
  if (lid != 0u) { return; }
  let sumG = sums[0];
  let sumGx = sums[1];
  let invStd = stats[P.statsOff + P.C + c];
  let scale = stats[P.statsOff + 2u * P.C + c];
  ${shared ? 'dWeight' : 'dBias'}[P.dbOff + c] = sumG;
  dWeight[P.dwOff + c] = sumGx * invStd;
  coef[P.coefOff + c] = scale;
  ${
    training
      ? `let count = f32(P.count);
  let b = -scale * invStd * invStd * sumGx / count;
  coef[P.coefOff + P.C + c] = b;
  coef[P.coefOff + 2u * P.C + c] = -b * mean - scale * sumG / count;`
      : `coef[P.coefOff + P.C + c] = 0.0;
  coef[P.coefOff + 2u * P.C + c] = 0.0;`
  }
}
`,
  };
}

export interface BatchNormBackwardArgs {
  N: number;
  C: number;
  HW: number;
  training: boolean;
  g: PlaneView;
  x: PlaneView;
  /** The forward output, whose sign masks g when a ReLU was fused in; null without ReLU. */
  y: PlaneView | null;
  stats: ChannelView;
  /** [3, C]: a, b, d of dx = a g' + b x + d. */
  coef: ChannelView;
  dWeight: ChannelView;
  dBias: ChannelView;
}

export function batchNormBackward(gpu: Gpu, a: BatchNormBackwardArgs): void {
  const workgroup = gpu.profile.reductionWorkgroup;
  const y = a.y ?? { binding: a.g.binding, off: 0, n: 0, c: 0, p: 0 };
  const shared = a.dWeight.binding.buffer === a.dBias.binding.buffer;
  const bindings = [a.g.binding, a.x.binding, a.stats.binding, a.coef.binding, a.dWeight.binding];
  if (!shared) bindings.push(a.dBias.binding);
  if (a.y) bindings.push(a.y.binding);
  gpu.run(kernel(a.training, a.y !== null, shared, workgroup), bindings, [a.C], {
    N: a.N,
    HW: a.HW,
    C: a.C,
    count: a.N * a.HW,
    gOff: a.g.off,
    gN: a.g.n,
    gC: a.g.c,
    gP: a.g.p,
    xOff: a.x.off,
    xN: a.x.n,
    xC: a.x.c,
    xP: a.x.p,
    yOff: y.off,
    yN: y.n,
    yC: y.c,
    yP: y.p,
    statsOff: a.stats.off,
    coefOff: a.coef.off,
    dwOff: a.dWeight.off,
    dbOff: a.dBias.off,
  });
}
