// Depthwise convolution, input gradient: dx[n,c,h,w] = sum over the taps (kh, kw) that land on
// (h, w) of dy[n,c,oh,ow] * w[c,kh,kw], oh = (h + pad - kh) / stride when that divides exactly
// (a gather, so every invocation owns the elements it writes).
//
// Tiling: one invocation per run of 4 neighbouring input elements of a row, all runs of all planes of
// the batch in one flat range (walked grid-stride, so any batch fits the dispatch limit); the
// channel's taps in registers.

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import type { ConvGeometry } from './conv_common.js';
import { RUN } from './depthwise.js';

function kernel(g: ConvGeometry, workgroup: number): Kernel {
  const [KH, KW] = g.kernel;
  const [SH, SW] = g.stride;
  return {
    name: `depthwise_grad_input_${KH}x${KW}_s${SH}`,
    params: ['H', 'W', 'OH', 'OW', 'C', 'runs', 'total', 'xOff', 'xN', 'xC', 'xH', 'xW', 'yOff', 'yN', 'yC', 'yH', 'yW'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var item = gid.x; item < P.total; item += groups.x * ${workgroup}u) {
    let w0 = (item % P.runs) * ${RUN}u;
    let h = (item / P.runs) % P.H;
    let c = (item / (P.runs * P.H)) % P.C;
    let n = item / (P.runs * P.H * P.C);
    var taps: array<f32, ${KH * KW}>;
    for (var t = 0u; t < ${KH * KW}u; t++) { taps[t] = w[c * ${KH * KW}u + t]; }
    let plane = P.yOff + n * P.yN + c * P.yC;
    // An explicit zero: SwiftShader keeps a loop-local var's value from the previous iteration.
    var acc = array<f32, ${RUN}>();
    for (var kh = 0u; kh < ${KH}u; kh++) {
      let th = i32(h) + ${g.padding[0]} - i32(kh);
      if (th < 0 || th % ${SH} != 0) { continue; }
      let oh = u32(th / ${SH});
      if (oh >= P.OH) { continue; }
      let row = plane + oh * P.yH;
      for (var j = 0u; j < ${RUN}u; j++) {
        for (var kw = 0u; kw < ${KW}u; kw++) {
          let tw = i32(w0 + j) + ${g.padding[1]} - i32(kw);
          if (tw < 0 || tw % ${SW} != 0) { continue; }
          let ow = u32(tw / ${SW});
          if (ow < P.OW) { acc[j] = fma(dy[row + ow * P.yW], taps[kh * ${KW}u + kw], acc[j]); }
        }
      }
    }
    let out = P.xOff + n * P.xN + c * P.xC + h * P.xH;
    for (var j = 0u; j < ${RUN}u; j++) {
      if (w0 + j < P.W) { dx[out + (w0 + j) * P.xW] = acc[j]; }
    }
  }
}
`,
  };
}

export function depthwiseGradInput(gpu: Gpu, g: ConvGeometry, dy: Binding, w: Binding, dx: Binding): void {
  const workgroup = gpu.profile.workgroup;
  const runs = Math.ceil(g.W / RUN);
  const total = g.N * g.C * g.H * runs;
  gpu.run(kernel(g, workgroup), [dy, w, dx], [gpu.groupsFor(total, workgroup)], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    C: g.C,
    runs,
    total,
    ...g.xStrides,
    ...g.yStrides,
  });
}
