// General 2-D convolution, weight gradient: dw[k,c,kh,kw] = sum over n, oh, ow of
// dy[n,k,oh,ow] * x[n, group(k)*C/groups + c, oh*s-p+kh, ow*s-p+kw].
//
// Tiling: the N*OH output rows are split into S slices; one invocation per (weight element, slice)
// sums its slice's rows into partial[slice][weight], then a reduction over the slices adds them up
// (so no invocation walks all of N*H*W alone).

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import type { ConvGeometry } from './conv_common.js';
import { reduce } from './reduce.js';

const ROWS_PER_SLICE = 16;

function kernel(g: ConvGeometry, workgroup: number): Kernel {
  const [KH, KW] = g.kernel;
  return {
    name: `conv2d_grad_weight_${KH}x${KW}_s${g.stride[0]}`,
    params: ['H', 'W', 'OH', 'OW', 'cPerGroup', 'kPerGroup', 'weights', 'rows', 'rowsPerSlice', 'xOff', 'xN', 'xC', 'xH', 'xW', 'yOff', 'yN', 'yC', 'yH', 'yW'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let wi = gid.x;
  let slice = gid.y;
  if (wi >= P.weights) { return; }
  let kw = wi % ${KW}u;
  let kh = (wi / ${KW}u) % ${KH}u;
  let cg = (wi / ${KH * KW}u) % P.cPerGroup;
  let k = wi / (${KH * KW}u * P.cPerGroup);
  let c = (k / P.kPerGroup) * P.cPerGroup + cg;
  let firstRow = slice * P.rowsPerSlice;
  let lastRow = min(firstRow + P.rowsPerSlice, P.rows);
  var acc = 0.0;
  for (var row = firstRow; row < lastRow; row++) {
    let n = row / P.OH;
    let oh = row % P.OH;
    let h = i32(oh * ${g.stride[0]}u + kh) - ${g.padding[0]};
    if (h < 0 || h >= i32(P.H)) { continue; }
    let dyRow = P.yOff + n * P.yN + k * P.yC + oh * P.yH;
    let xRow = P.xOff + n * P.xN + c * P.xC + u32(h) * P.xH;
    for (var ow = 0u; ow < P.OW; ow++) {
      let wx = i32(ow * ${g.stride[1]}u + kw) - ${g.padding[1]};
      if (wx < 0 || wx >= i32(P.W)) { continue; }
      acc = fma(dy[dyRow + ow * P.yW], x[xRow + u32(wx) * P.xW], acc);
    }
  }
  partial[slice * P.weights + wi] = acc;
}
`,
  };
}

/** dw is contiguous [K, C/groups, KH, KW] at element offset dwOff of its buffer. */
export function conv2dGradWeight(gpu: Gpu, g: ConvGeometry, dy: Binding, x: Binding, dw: Binding, dwOff: number): void {
  const workgroup = Math.min(64, gpu.maxInvocations);
  const weights = (g.K * (g.C / g.groups) * g.kernel[0] * g.kernel[1]);
  const rows = g.N * g.OH;
  const slices = Math.min(Math.ceil(rows / ROWS_PER_SLICE), gpu.limits.maxComputeWorkgroupsPerDimension);
  const rowsPerSlice = Math.ceil(rows / slices);
  const partial = gpu.pool.acquire(slices * weights * 4);
  gpu.run(kernel(g, workgroup), [dy, x, { buffer: partial }], [Math.ceil(weights / workgroup), slices], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    cPerGroup: g.C / g.groups,
    kPerGroup: g.K / g.groups,
    weights,
    rows,
    rowsPerSlice,
    ...g.xStrides,
    ...g.yStrides,
  });
  reduce(gpu, [{ k: 'in', i: 0 }], [{ binding: { buffer: partial }, offset: 0, strides: [weights, 1] }], { binding: dw, offset: dwOff, strides: [0, 1] }, 0, [slices, weights], [true, false]);
  gpu.pool.release(partial);
}
