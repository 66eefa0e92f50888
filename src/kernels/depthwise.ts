// Depthwise convolution (groups = channels, one filter per channel), forward:
// y[n,c,oh,ow] = epilogue(sum over kh, kw of x[n,c,oh*s-p+kh,ow*s-p+kw] * w[c,kh,kw]).
//
// Tiling: one invocation per run of 4 neighbouring outputs of a row, all runs of all planes of the
// batch in one flat range (small feature maps still fill whole workgroups), walked grid-stride so that
// any batch fits the dispatch limit. The channel's taps are loaded once into registers, and
// each input row segment the 4 outputs share is read once (KW + 3*stride values per tap row). Kernel
// size, stride and padding are baked in. Input and output are strided views (channel slices need no
// copy).

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import { type ConvGeometry, type EpilogueBindings, epilogueCode } from './conv_common.js';

export const RUN = 4;

function kernel(g: ConvGeometry, epi: EpilogueBindings, workgroup: number): Kernel {
  const [KH, KW] = g.kernel;
  const [SH, SW] = g.stride;
  const span = KW + (RUN - 1) * SW;
  return {
    name: `depthwise_${KH}x${KW}_s${SH}`,
    params: ['H', 'W', 'OH', 'OW', 'C', 'runs', 'total', 'xOff', 'xN', 'xC', 'xH', 'xW', 'yOff', 'yN', 'yC', 'yH', 'yW', 'scaleOff', 'shiftOff'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${epi.declarations(4)}

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var item = gid.x; item < P.total; item += groups.x * ${workgroup}u) {
    let ow0 = (item % P.runs) * ${RUN}u;
    let oh = (item / P.runs) % P.OH;
    let c = (item / (P.runs * P.OH)) % P.C;
    let n = item / (P.runs * P.OH * P.C);
    var taps: array<f32, ${KH * KW}>;
    for (var t = 0u; t < ${KH * KW}u; t++) { taps[t] = w[c * ${KH * KW}u + t]; }
    let plane = P.xOff + n * P.xN + c * P.xC;
    let w0 = i32(ow0 * ${SW}u) - ${g.padding[1]};
    // An explicit zero: SwiftShader keeps a loop-local var's value from the previous iteration.
    var acc = array<f32, ${RUN}>();
    for (var kh = 0u; kh < ${KH}u; kh++) {
      let h = i32(oh * ${SH}u + kh) - ${g.padding[0]};
      if (h < 0 || h >= i32(P.H)) { continue; }
      let row = plane + u32(h) * P.xH;
      var segment: array<f32, ${span}>;
      for (var i = 0u; i < ${span}u; i++) {
        let wi = w0 + i32(i);
        segment[i] = select(0.0, x[row + u32(clamp(wi, 0, i32(P.W) - 1)) * P.xW], wi >= 0 && wi < i32(P.W));
      }
      for (var j = 0u; j < ${RUN}u; j++) {
        for (var kw = 0u; kw < ${KW}u; kw++) {
          acc[j] = fma(segment[j * ${SW}u + kw], taps[kh * ${KW}u + kw], acc[j]);
        }
      }
    }
    let out = P.yOff + n * P.yN + c * P.yC + oh * P.yH;
    for (var j = 0u; j < ${RUN}u; j++) {
      let ow = ow0 + j;
      if (ow < P.OW) {
        var v = acc[j];
        ${epilogueCode(epi, 'v', 'c')}
        y[out + ow * P.yW] = v;
      }
    }
  }
}
`,
  };
}

export function depthwiseForward(gpu: Gpu, g: ConvGeometry, x: Binding, w: Binding, y: Binding, epi: EpilogueBindings): void {
  const workgroup = gpu.profile.workgroup;
  const runs = Math.ceil(g.OW / RUN);
  const total = g.N * g.C * g.OH * runs;
  gpu.run(kernel(g, epi, workgroup), [x, w, y, ...epi.bindings], [gpu.groupsFor(total, workgroup)], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    C: g.C,
    runs,
    total,
    ...g.xStrides,
    ...g.yStrides,
    ...epi.offsets,
  });
}
