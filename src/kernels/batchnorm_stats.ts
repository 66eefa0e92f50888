// Batch-norm statistics: per channel c of an NCHW view, the mean and the biased variance over
// N, H, W (what training-mode batch norm normalises with), in one pass over memory.
//
// Tiling: one workgroup per channel; each invocation runs Welford's update over the positions it
// strides over (every image, plane positions lid, lid + WG, ...), then the workgroup merges the
// invocations' (count, mean, M2) triples pairwise in a tree (Chan et al.'s parallel formula), which
// stays accurate where a sum of squares would cancel.

import type { Binding, Gpu, Kernel } from '../gpu/context.js';

function kernel(workgroup: number): Kernel {
  return {
    name: 'batchnorm_stats',
    params: ['N', 'HW', 'xOff', 'xN', 'xC', 'xP', 'meanOff', 'meanStride', 'varOff', 'varStride'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> meanOut: array<f32>;
@group(0) @binding(3) var<storage, read_write> varOut: array<f32>;

var<workgroup> counts: array<f32, ${workgroup}>;
var<workgroup> means: array<f32, ${workgroup}>;
var<workgroup> m2s: array<f32, ${workgroup}>;

@compute @workgroup_size(${workgroup})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wg.x;
  var count = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  for (var n = 0u; n < P.N; n++) {
    let plane = P.xOff + n * P.xN + c * P.xC;
    for (var p = lid; p < P.HW; p += ${workgroup}u) {
      let v = x[plane + p * P.xP];
      count += 1.0;
      let delta = v - mean;
      mean += delta / count;
      m2 = fma(delta, v - mean, m2);
    }
  }
  counts[lid] = count;
  means[lid] = mean;
  m2s[lid] = m2;
  for (var width = ${workgroup / 2}u; width > 0u; width = width / 2u) {
    workgroupBarrier();
    if (lid < width) {
      let nb = counts[lid + width];
      if (nb > 0.0) {
        let na = counts[lid];
        let total = na + nb;
        let delta = means[lid + width] - means[lid];
        means[lid] += delta * (nb / total);
        m2s[lid] += m2s[lid + width] + delta * delta * (na * nb / total);
        counts[lid] = total;
      }
    }
  }
  if (lid == 0u) {
    meanOut[P.meanOff + c * P.meanStride] = means[0];
    varOut[P.varOff + c * P.varStride] = m2s[0] / counts[0];
  }
}
`,
  };
}

export interface ChannelStatsArgs {
  N: number;
  C: number;
  HW: number;
  x: { binding: Binding; off: number; n: number; c: number; p: number };
  mean: { binding: Binding; off: number; stride: number };
  variance: { binding: Binding; off: number; stride: number };
}

export function batchNormStats(gpu: Gpu, a: ChannelStatsArgs): void {
  const workgroup = Math.min(256, gpu.maxInvocations);
  gpu.run(kernel(workgroup), [a.x.binding, a.mean.binding, a.variance.binding], [a.C], {
    N: a.N,
    HW: a.HW,
    xOff: a.x.off,
    xN: a.x.n,
    xC: a.x.c,
    xP: a.x.p,
    meanOff: a.mean.off,
    meanStride: a.mean.stride,
    varOff: a.variance.off,
    varStride: a.variance.stride,
  });
}
