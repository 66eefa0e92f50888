// Depthwise convolution, weight gradient: dw[c,kh,kw] = sum over n, oh, ow of
// dy[n,c,oh,ow] * x[n,c,oh*s-p+kh,ow*s-p+kw].
//
// Tiling: the reduction over N*OH*OW is split: a workgroup owns one channel and one slice of the
// batch; its invocations stride over the output positions of each image, each keeping all KH*KW tap
// sums in registers, then a workgroup sum of the taps (workgroup_reduce.ts) writes
// partial[slice][c][tap]; a second pass adds the slices.

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import type { ConvGeometry } from './conv_common.js';
import { reduce } from './reduce.js';
import { blockSum } from './workgroup_reduce.js';

function kernel(g: ConvGeometry, workgroup: number): Kernel {
  const [KH, KW] = g.kernel;
  const taps = KH * KW;
  return {
    name: `depthwise_grad_weight_${KH}x${KW}_s${g.stride[0]}`,
    params: ['N', 'C', 'H', 'W', 'OH', 'OW', 'imagesPerSlice', 'xOff', 'xN', 'xC', 'xH', 'xW', 'yOff', 'yN', 'yC', 'yH', 'yW'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

${blockSum('workgroupSum', workgroup, taps, false)}
@compute @workgroup_size(${workgroup})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let c = wg.x;
  let slice = wg.y;
  let firstImage = slice * P.imagesPerSlice;
  let lastImage = min(firstImage + P.imagesPerSlice, P.N);
  var acc: array<f32, ${taps}>;
  for (var n = firstImage; n < lastImage; n++) {
    let dyPlane = P.yOff + n * P.yN + c * P.yC;
    let xPlane = P.xOff + n * P.xN + c * P.xC;
    for (var o = lid; o < P.OH * P.OW; o += ${workgroup}u) {
      let oh = o / P.OW;
      let ow = o % P.OW;
      let grad = dy[dyPlane + oh * P.yH + ow * P.yW];
      let h0 = i32(oh * ${g.stride[0]}u) - ${g.padding[0]};
      let w0 = i32(ow * ${g.stride[1]}u) - ${g.padding[1]};
      for (var kh = 0u; kh < ${KH}u; kh++) {
        let h = h0 + i32(kh);
        if (h < 0 || h >= i32(P.H)) { continue; }
        for (var kw = 0u; kw < ${KW}u; kw++) {
          let wx = w0 + i32(kw);
          if (wx < 0 || wx >= i32(P.W)) { continue; }
          acc[kh * ${KW}u + kw] = fma(grad, x[xPlane + u32(h) * P.xH + u32(wx) * P.xW], acc[kh * ${KW}u + kw]);
        }
      }
    }
  }
  let sums = workgroupSum(lid, acc);
  if (lid < ${taps}u) {
    partial[(slice * P.C + c) * ${taps}u + lid] = sums[lid];
  }
}
`,
  };
}

/** dw is contiguous [C, 1, KH, KW] at element offset dwOff of its buffer. */
export function depthwiseGradWeight(gpu: Gpu, g: ConvGeometry, dy: Binding, x: Binding, dw: Binding, dwOff: number): void {
  const workgroup = gpu.profile.workgroup;
  const taps = g.kernel[0] * g.kernel[1];
  // Enough slices to keep the device busy, at least a few thousand positions per workgroup.
  const slices = Math.max(
    1,
    Math.min(g.N, Math.ceil(gpu.profile.reductionTarget / g.C), Math.floor((g.N * g.OH * g.OW) / gpu.profile.reduceElementsPerWorkgroup)),
  );
  const imagesPerSlice = Math.ceil(g.N / slices);
  const partial = gpu.pool.acquire(slices * g.C * taps * 4);
  gpu.run(kernel(g, workgroup), [dy, x, { buffer: partial }], [g.C, slices], {
    N: g.N,
    C: g.C,
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    imagesPerSlice,
    ...g.xStrides,
    ...g.yStrides,
  });
  const weights = g.C * taps;
  reduce(
    gpu,
    [{ k: 'in', i: 0 }],
    [{ binding: { buffer: partial }, offset: 0, strides: [weights, 1] }],
    { binding: dw, offset: dwOff, strides: [0, 1] },
    0,
    [slices, weights],
    [true, false],
  );
  gpu.pool.release(partial);
}
