// General 2-D convolution, forward: y[n,k,oh,ow] = epilogue(sum over c in k's group, kh, kw of
// x[n,c,oh*s-p+kh,ow*s-p+kw] * w[k,c,kh,kw]). Used for convolutions that are neither 1x1 (matmul) nor
// depthwise, in ShuffleNet only the 3x3 stride-2 stem, whose input has three channels.
//
// Tiling: one invocation per output element: x over the output plane, y over output channels, z over
// the batch. Kernel size, stride and padding are baked in so the tap loops unroll; the input and the
// output are strided views, the weight is contiguous [K, C/groups, KH, KW].

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import { type ConvGeometry, type EpilogueBindings, epilogueCode } from './conv_common.js';

function kernel(g: ConvGeometry, epi: EpilogueBindings, workgroup: number): Kernel {
  const [KH, KW] = g.kernel;
  return {
    name: `conv2d_${KH}x${KW}_s${g.stride[0]}`,
    params: ['C', 'H', 'W', 'K', 'OH', 'OW', 'cPerGroup', 'kPerGroup', 'xOff', 'xN', 'xC', 'xH', 'xW', 'yOff', 'yN', 'yC', 'yH', 'yW', 'scaleOff', 'shiftOff'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${epi.declarations(4)}

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let k = gid.y;
  let n = gid.z;
  if (gid.x >= P.OH * P.OW) { return; }
  let oh = gid.x / P.OW;
  let ow = gid.x % P.OW;
  let group = k / P.kPerGroup;
  let h0 = i32(oh * ${g.stride[0]}u) - ${g.padding[0]};
  let w0 = i32(ow * ${g.stride[1]}u) - ${g.padding[1]};
  var acc = 0.0;
  for (var cg = 0u; cg < P.cPerGroup; cg++) {
    let xPlane = P.xOff + n * P.xN + (group * P.cPerGroup + cg) * P.xC;
    let wBase = (k * P.cPerGroup + cg) * ${KH * KW}u;
    for (var kh = 0u; kh < ${KH}u; kh++) {
      let h = h0 + i32(kh);
      if (h < 0 || h >= i32(P.H)) { continue; }
      for (var kw = 0u; kw < ${KW}u; kw++) {
        let wi = w0 + i32(kw);
        if (wi < 0 || wi >= i32(P.W)) { continue; }
        acc = fma(x[xPlane + u32(h) * P.xH + u32(wi) * P.xW], w[wBase + kh * ${KW}u + kw], acc);
      }
    }
  }
  ${epilogueCode(epi, 'acc', 'k')}
  y[P.yOff + n * P.yN + k * P.yC + oh * P.yH + ow * P.yW] = acc;
}
`,
  };
}

export function conv2dForward(gpu: Gpu, g: ConvGeometry, x: Binding, w: Binding, y: Binding, epi: EpilogueBindings): void {
  const workgroup = Math.min(64, gpu.maxInvocations);
  gpu.run(kernel(g, epi, workgroup), [x, w, y, ...epi.bindings], [Math.ceil((g.OH * g.OW) / workgroup), g.K, g.N], {
    C: g.C,
    H: g.H,
    W: g.W,
    K: g.K,
    OH: g.OH,
    OW: g.OW,
    cPerGroup: g.C / g.groups,
    kPerGroup: g.K / g.groups,
    ...g.xStrides,
    ...g.yStrides,
    ...epi.offsets,
  });
}
