// General 2-D convolution, input gradient: dx[n,c,h,w] = sum over the output channels k of c's group
// and the taps (kh, kw) that land on (h, w) of dy[n,k,oh,ow] * w[k,c,kh,kw], with
// oh = (h + pad - kh) / stride when that divides exactly (the transposed convolution as a gather, so
// no two invocations write the same element).
//
// Tiling: one invocation per input element: x over the input plane (grid-stride), y over channels, z
// over the batch.

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import type { ConvGeometry } from './conv_common.js';

function kernel(g: ConvGeometry, workgroup: number): Kernel {
  const [KH, KW] = g.kernel;
  const [SH, SW] = g.stride;
  return {
    name: `conv2d_grad_input_${KH}x${KW}_s${SH}`,
    params: ['C', 'H', 'W', 'K', 'OH', 'OW', 'cPerGroup', 'kPerGroup', 'xOff', 'xN', 'xC', 'xH', 'xW', 'yOff', 'yN', 'yC', 'yH', 'yW'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

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
      let dyPlane = P.yOff + n * P.yN + k * P.yC;
      let wBase = (k * P.cPerGroup + cg) * ${KH * KW}u;
      for (var kh = 0u; kh < ${KH}u; kh++) {
        let th = i32(h) + ${g.padding[0]} - i32(kh);
        if (th < 0 || th % ${SH} != 0) { continue; }
        let oh = u32(th / ${SH});
        if (oh >= P.OH) { continue; }
        for (var kw = 0u; kw < ${KW}u; kw++) {
          let tw = i32(wx) + ${g.padding[1]} - i32(kw);
          if (tw < 0 || tw % ${SW} != 0) { continue; }
          let ow = u32(tw / ${SW});
          if (ow >= P.OW) { continue; }
          acc = fma(dy[dyPlane + oh * P.yH + ow * P.yW], w[wBase + kh * ${KW}u + kw], acc);
        }
      }
    }
    dx[P.xOff + n * P.xN + c * P.xC + h * P.xH + wx * P.xW] = acc;
  }
}
`,
  };
}

/** dy is the output-gradient view (geometry's y strides), dx the input-gradient view (x strides). */
export function conv2dGradInput(gpu: Gpu, g: ConvGeometry, dy: Binding, w: Binding, dx: Binding): void {
  const workgroup = gpu.profile.workgroup;
  gpu.run(kernel(g, workgroup), [dy, w, dx], [gpu.groupsFor(g.H * g.W, workgroup), g.C, g.N], {
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
  });
}
