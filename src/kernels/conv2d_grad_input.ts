// General 2-D convolution, input gradient: dx[n,c,h,w] = sum over the output channels k of c's group
// and the taps (kh, kw) that land on (h, w) of dy[n,k,oh,ow] * w[k,c,kh,kw], with
// oh = (h + pad - kh) / stride when that divides exactly (the transposed convolution as a gather, so
// no two invocations write the same element).
//
// Tiling: one invocation per input element: x over the input plane (grid-stride), y over channels, z
// over the batch.

import { type Binding, type Gpu, memoKernel } from '../gpu/context.js';
import { CONV_X, CONV_Y, type ConvGeometry } from './conv_common.js';

const kernel = memoKernel('conv2d_grad_input', (KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, workgroup: number) => ({
  params: ['C', 'H', 'W', 'K', 'OH', 'OW', 'cPerGroup', 'kPerGroup', ...CONV_X.params, ...CONV_Y.params],
  wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

${CONV_X.wgsl}${CONV_Y.wgsl}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var e = gid.x; e < P.H * P.W; e += groups.x * ${workgroup}u) {
    let c = gid.y;
    let n = gid.z;
    let h = e / P.W;
    let wx = e % P.W;
    let group = c / P.cPerGroup;
    let cg = c % P.cPerGroup;
    var acc = 0.0;
    for (var kk = 0u; kk < P.kPerGroup; kk++) {
      let k = group * P.kPerGroup + kk;
      let wBase = (k * P.cPerGroup + cg) * ${KH * KW}u;
      for (var kh = 0u; kh < ${KH}u; kh++) {
        let th = i32(h) + ${PH} - i32(kh);
        if (th < 0 || th % ${SH} != 0) { continue; }
        let oh = u32(th / ${SH});
        if (oh >= P.OH) { continue; }
        let dyRow = yBase(n, k, oh);
        for (var kw = 0u; kw < ${KW}u; kw++) {
          let tw = i32(wx) + ${PW} - i32(kw);
          if (tw < 0 || tw % ${SW} != 0) { continue; }
          let ow = u32(tw / ${SW});
          if (ow >= P.OW) { continue; }
          acc = fma(dy[yAt(dyRow, ow)], w[wBase + kh * ${KW}u + kw], acc);
        }
      }
    }
    dx[xAt(xBase(n, c, h), wx)] = acc;
  }
}
`,
}));

/** The geometry's y is dy (the output gradient), its x is dx; w the weights bound from their first element. */
export function conv2dGradInput(gpu: Gpu, g: ConvGeometry, w: Binding): void {
  const workgroup = gpu.profile.workgroup;
  const k = kernel(g.kernel[0], g.kernel[1], g.stride[0], g.stride[1], g.padding[0], g.padding[1], workgroup);
  gpu.run(k, [g.y.binding, w, g.x.binding], [gpu.groupsFor(g.H * g.W, workgroup), g.C, g.N], {
    C: g.C,
    H: g.H,
    W: g.W,
    K: g.K,
    OH: g.OH,
    OW: g.OW,
    cPerGroup: g.C / g.groups,
    kPerGroup: g.K / g.groups,
    ...CONV_X.values(g.x),
    ...CONV_Y.values(g.y),
  });
}
