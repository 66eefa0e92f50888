// Max pooling, forward: y[n,c,oh,ow] = max over the window of x, and argmax = h*W + w of the first
// maximum in scan order (a NaN wins, as in PyTorch), kept for the backward pass. The first tap
// inside the image seeds the maximum.
//
// Tiling: one invocation per output element: x over the output plane, y over N*C planes (both
// grid-stride).

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import type { PoolGeometry } from './window_common.js';

function kernel(g: PoolGeometry, workgroup: number): Kernel {
  return {
    name: `maxpool_${g.kernel}_s${g.stride}`,
    params: ['H', 'W', 'OH', 'OW', 'C', 'planes', 'xOff', 'xN', 'xC', 'xH', 'xW'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<i32>;

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var plane = gid.y; plane < P.planes; plane += groups.y) {
    for (var e = gid.x; e < P.OH * P.OW; e += groups.x * ${workgroup}u) {
      let oh = e / P.OW;
      let ow = e % P.OW;
      let base = P.xOff + (plane / P.C) * P.xN + (plane % P.C) * P.xC;
      var best = 0.0;
      var at = -1;
      for (var kh = 0; kh < ${g.kernel}; kh++) {
        let h = i32(oh) * ${g.stride} - ${g.padding} + kh;
        if (h < 0 || h >= i32(P.H)) { continue; }
        for (var kw = 0; kw < ${g.kernel}; kw++) {
          let w = i32(ow) * ${g.stride} - ${g.padding} + kw;
          if (w < 0 || w >= i32(P.W)) { continue; }
          let v = x[base + u32(h) * P.xH + u32(w) * P.xW];
          if (v > best || v != v || at < 0) {
            best = v;
            at = h * i32(P.W) + w;
          }
        }
      }
      let o = plane * P.OH * P.OW + e;
      y[o] = best;
      argmax[o] = at;
    }
  }
}
`,
  };
}

/** x is a strided NCHW view; y and argmax are contiguous [N, C, OH, OW]. */
export function maxPool(
  gpu: Gpu,
  g: PoolGeometry,
  x: Binding,
  xStrides: Record<'xOff' | 'xN' | 'xC' | 'xH' | 'xW', number>,
  y: Binding,
  argmax: Binding,
): void {
  const workgroup = gpu.profile.workgroup;
  gpu.run(kernel(g, workgroup), [x, y, argmax], [gpu.groupsFor(g.OH * g.OW, workgroup), gpu.groupsFor(g.N * g.C, 1)], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    C: g.C,
    planes: g.N * g.C,
    ...xStrides,
  });
}
