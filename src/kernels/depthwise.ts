// Depthwise convolution (groups = channels, one filter per channel), forward:
// y[n,c,oh,ow] = epilogue(sum over kh, kw of x[n,c,oh*s-p+kh,ow*s-p+kw] * w[c,kh,kw]).
//
// Tiling: one invocation per output element: x over the output plane, y over channels, z over the
// batch. The channel's taps are loaded once into registers; kernel size, stride and padding are baked
// in so the tap loops unroll. Input and output are strided views (channel slices need no copy).

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import { type ConvGeometry, type EpilogueBindings, epilogueCode } from './conv_common.js';

function kernel(g: ConvGeometry, epi: EpilogueBindings, workgroup: number): Kernel {
  const [KH, KW] = g.kernel;
  const taps = KH * KW;
  return {
    name: `depthwise_${KH}x${KW}_s${g.stride[0]}`,
    params: ['H', 'W', 'OH', 'OW', 'xOff', 'xN', 'xC', 'xH', 'xW', 'yOff', 'yN', 'yC', 'yH', 'yW', 'scaleOff', 'shiftOff'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${epi.declarations(4)}

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.y;
  let n = gid.z;
  if (gid.x >= P.OH * P.OW) { return; }
  let oh = gid.x / P.OW;
  let ow = gid.x % P.OW;
  var taps: array<f32, ${taps}>;
  for (var t = 0u; t < ${taps}u; t++) { taps[t] = w[c * ${taps}u + t]; }
  let plane = P.xOff + n * P.xN + c * P.xC;
  let h0 = i32(oh * ${g.stride[0]}u) - ${g.padding[0]};
  let w0 = i32(ow * ${g.stride[1]}u) - ${g.padding[1]};
  var acc = 0.0;
  for (var kh = 0u; kh < ${KH}u; kh++) {
    let h = h0 + i32(kh);
    if (h < 0 || h >= i32(P.H)) { continue; }
    for (var kw = 0u; kw < ${KW}u; kw++) {
      let wx = w0 + i32(kw);
      if (wx < 0 || wx >= i32(P.W)) { continue; }
      acc = fma(x[plane + u32(h) * P.xH + u32(wx) * P.xW], taps[kh * ${KW}u + kw], acc);
    }
  }
  ${epilogueCode(epi, 'acc', 'c')}
  y[P.yOff + n * P.yN + c * P.yC + oh * P.yH + ow * P.yW] = acc;
}
`,
  };
}

export function depthwiseForward(gpu: Gpu, g: ConvGeometry, x: Binding, w: Binding, y: Binding, epi: EpilogueBindings): void {
  const workgroup = Math.min(64, gpu.maxInvocations);
  gpu.run(kernel(g, epi, workgroup), [x, w, y, ...epi.bindings], [Math.ceil((g.OH * g.OW) / workgroup), g.C, g.N], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    ...g.xStrides,
    ...g.yStrides,
    ...epi.offsets,
  });
}
