// Max pooling, backward: dx[n,c,h,w] = sum of dy over the outputs whose window holds (h, w) and whose
// argmax is (h, w). A gather: every invocation visits the few windows covering its element, so no
// two invocations write the same place (the scatter of PyTorch's kernel would need atomics).
//
// Tiling: one invocation per input element: x over the input plane, y over N*C planes (both
// grid-stride).

import type { Binding, Gpu, Kernel } from '../gpu/context.js';

export interface PoolGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  kernel: number;
  stride: number;
  padding: number;
}

function kernel(g: PoolGeometry, workgroup: number): Kernel {
  return {
    name: `maxpool_grad_${g.kernel}_s${g.stride}`,
    params: ['H', 'W', 'OH', 'OW', 'C', 'planes', 'yOff', 'yN', 'yC', 'yH', 'yW'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> argmax: array<i32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var plane = gid.y; plane < P.planes; plane += groups.y) {
    for (var e = gid.x; e < P.H * P.W; e += groups.x * ${workgroup}u) {
      let h = i32(e / P.W);
      let w = i32(e % P.W);
      let me = i32(e);
      let dyPlane = P.yOff + (plane / P.C) * P.yN + (plane % P.C) * P.yC;
      let argPlane = plane * P.OH * P.OW;
      // Outputs whose window [o*s - p, o*s - p + k) holds h: o in [ceil((h + p - k + 1) / s), floor((h + p) / s)].
      let ohFirst = max(0, (h + ${g.padding} - ${g.kernel} + ${g.stride}) / ${g.stride});
      let ohLast = min(i32(P.OH) - 1, (h + ${g.padding}) / ${g.stride});
      let owFirst = max(0, (w + ${g.padding} - ${g.kernel} + ${g.stride}) / ${g.stride});
      let owLast = min(i32(P.OW) - 1, (w + ${g.padding}) / ${g.stride});
      var acc = 0.0;
      for (var oh = ohFirst; oh <= ohLast; oh++) {
        for (var ow = owFirst; ow <= owLast; ow++) {
          if (argmax[argPlane + u32(oh) * P.OW + u32(ow)] == me) {
            acc += dy[dyPlane + u32(oh) * P.yH + u32(ow) * P.yW];
          }
        }
      }
      dx[plane * P.H * P.W + e] = acc;
    }
  }
}
`,
  };
}

/** dy is a strided view; argmax and dx are contiguous. */
export function maxPoolGrad(
  gpu: Gpu,
  g: PoolGeometry,
  dy: Binding,
  dyStrides: Record<'yOff' | 'yN' | 'yC' | 'yH' | 'yW', number>,
  argmax: Binding,
  dx: Binding,
): void {
  const workgroup = gpu.profile.workgroup;
  gpu.run(kernel(g, workgroup), [dy, argmax, dx], [gpu.groupsFor(g.H * g.W, workgroup), gpu.groupsFor(g.N * g.C, 1)], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    C: g.C,
    planes: g.N * g.C,
    ...dyStrides,
  });
}
