// im2col: the patches a convolution multiplies, laid out as a matrix, so that the convolution becomes
// a matrix product on the tiled matmul kernel:
//   col[n][(c * KH + kh) * KW + kw][oh * OW + ow] = x[n][c][oh*s - p + kh][ow*s - p + kw]  (0 outside)
// for the channels c of one group. Used for convolutions that are neither 1x1 nor depthwise (the
// 3x3 stride-2 stem: 27 rows, so the product has a long, well-tiled N dimension).
//
// Tiling: x walks output positions (several per invocation on software adapters), y the col rows
// (c, kh, kw), z the batch; every read is a gather from the strided input view.

import { type Binding, type Gpu, memoKernel } from '../gpu/context.js';
import { CONV_X, type ConvGeometry } from './conv_common.js';

const kernel = memoKernel('im2col', (KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, workgroup: number) => ({
  params: ['H', 'W', 'OH', 'OW', 'rows', 'firstChannel', ...CONV_X.params],
  wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> col: array<f32>;

${CONV_X.wgsl}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let row = gid.y;
  let n = gid.z;
  let kw = row % ${KW}u;
  let kh = (row / ${KW}u) % ${KH}u;
  let c = P.firstChannel + row / ${KH * KW}u;
  let positions = P.OH * P.OW;
  let out = (n * P.rows + row) * positions;
  for (var o = gid.x; o < positions; o += groups.x * ${workgroup}u) {
    let h = i32((o / P.OW) * ${SH}u + kh) - ${PH};
    let w = i32((o % P.OW) * ${SW}u + kw) - ${PW};
    var v = 0.0;
    if (h >= 0 && h < i32(P.H) && w >= 0 && w < i32(P.W)) { v = x[xAt(xBase(n, c, u32(h)), u32(w))]; }
    col[out + o] = v;
  }
}
`,
}));

/** Fills col [N, (C/groups)*KH*KW, OH*OW] with the patches of channel group `group` of the geometry's x. */
export function im2col(gpu: Gpu, g: ConvGeometry, group: number, col: Binding): void {
  const workgroup = gpu.profile.workgroup;
  const rows = (g.C / g.groups) * g.kernel[0] * g.kernel[1];
  const perInvocation = gpu.profile.im2colPerInvocation;
  const k = kernel(g.kernel[0], g.kernel[1], g.stride[0], g.stride[1], g.padding[0], g.padding[1], workgroup);
  gpu.run(k, [g.x.binding, col], [Math.min(Math.ceil((g.OH * g.OW) / (workgroup * perInvocation)), gpu.maxGroups), rows, g.N], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    rows,
    firstChannel: group * (g.C / g.groups),
    ...CONV_X.values(g.x),
  });
}
