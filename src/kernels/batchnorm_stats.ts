// Batch-norm statistics and the per-channel affine they imply, in one kernel. For channel c:
//   training:   mean, biased variance over N, H, W; the running mean and the unbiased running
//               variance updated in place with `momentum` (as torch.nn.functional.batch_norm)
//   evaluation: mean and variance are the running statistics
// then stats[0][c] = mean, stats[1][c] = invstd = 1/sqrt(var + eps), stats[2][c] = scale =
// weight * invstd, stats[3][c] = shift = bias - mean * scale (y = x * scale + shift).
//
// Tiling: one workgroup per channel. In training each invocation sums its positions (every image,
// plane positions lid, lid + WG, ...) relative to its first value, which keeps the squares small
// without a division per element; the workgroup then merges the invocations' (count, mean, M2)
// (workgroup_reduce.ts) and invocation 0 finishes the channel.

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import { f32bits } from '../gpu/context.js';
import { blockMeanM2 } from './workgroup_reduce.js';

function kernel(training: boolean, workgroup: number): Kernel {
  const accumulate = /* wgsl */ `
  var count = 0.0;
  var first = 0.0;
  var sum = 0.0;
  var squares = 0.0;
  for (var n = 0u; n < P.N; n++) {
    let plane = P.xOff + n * P.xN + c * P.xC;
    for (var p = lid; p < P.HW; p += ${workgroup}u) {
      let v = x[plane + p * P.xP];
      if (count == 0.0) { first = v; }
      let d = v - first;
      sum += d;
      squares = fma(d, d, squares);
      count += 1.0;
    }
  }
  let merged = workgroupMeanM2(lid, count, select(0.0, first + sum / count, count > 0.0), select(0.0, squares - sum * sum / count, count > 0.0));
  if (lid != 0u) { return; }
  let total = merged.x;
  let mean = merged.y;
  let variance = max(merged.z / total, 0.0);
  let momentum = bitcast<f32>(P.momentum);
  runningMean[P.rmOff + c] = (1.0 - momentum) * runningMean[P.rmOff + c] + momentum * mean;
  runningVar[P.rvOff + c] = (1.0 - momentum) * runningVar[P.rvOff + c] + momentum * variance * total / (total - 1.0);`;
  return {
    name: training ? 'batchnorm_stats_train' : 'batchnorm_stats_eval',
    params: ['N', 'HW', 'C', 'xOff', 'xN', 'xC', 'xP', 'wOff', 'bOff', 'rmOff', 'rvOff', 'statsOff', 'momentum', 'eps'],
    wgsl: /* wgsl */ `
${['weight', 'bias'].map((name, i) => `@group(0) @binding(${i + 1}) var<storage, read> ${name}: array<f32>;`).join('\n')}
@group(0) @binding(3) var<storage, read_write> runningMean: array<f32>;
@group(0) @binding(4) var<storage, read_write> runningVar: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;
${training ? '@group(0) @binding(6) var<storage, read> x: array<f32>;' : ''}

${training ? blockMeanM2('workgroupMeanM2', workgroup) : ''}

@compute @workgroup_size(${workgroup})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(global_invocation_id) gid: vec3u) {
  ${
    training
      ? `let c = wg.x;${accumulate}`
      : `let c = gid.x;
  if (c >= P.C) { return; }
  let mean = runningMean[P.rmOff + c];
  let variance = runningVar[P.rvOff + c];`
  }
  let invStd = inverseSqrt(variance + bitcast<f32>(P.eps));
  let scale = weight[P.wOff + c] * invStd;
  stats[P.statsOff + c] = mean;
  stats[P.statsOff + P.C + c] = invStd;
  stats[P.statsOff + 2u * P.C + c] = scale;
  stats[P.statsOff + 3u * P.C + c] = bias[P.bOff + c] - mean * scale;
}
`,
  };
}

export interface ChannelView {
  binding: Binding;
  off: number;
}

export interface BatchNormStatsArgs {
  N: number;
  C: number;
  HW: number;
  /** The input view (training only): offset and strides of image, channel and merged plane position. */
  x: { binding: Binding; off: number; n: number; c: number; p: number } | null;
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
  const training = a.x !== null;
  const workgroup = training ? gpu.profile.reductionWorkgroup : gpu.profile.workgroup;
  const x = a.x ?? { binding: a.weight.binding, off: 0, n: 0, c: 0, p: 0 };
  const bindings = [a.weight.binding, a.bias.binding, a.runningMean.binding, a.runningVar.binding, a.stats.binding];
  if (training) bindings.push(x.binding);
  gpu.run(kernel(training, workgroup), bindings, [training ? a.C : Math.ceil(a.C / workgroup)], {
    N: a.N,
    HW: a.HW,
    C: a.C,
    xOff: x.off,
    xN: x.n,
    xC: x.c,
    xP: x.p,
    wOff: a.weight.off,
    bOff: a.bias.off,
    rmOff: a.runningMean.off,
    rvOff: a.runningVar.off,
    statsOff: a.stats.off,
    momentum: f32bits(a.momentum),
    eps: f32bits(a.eps),
  });
}
