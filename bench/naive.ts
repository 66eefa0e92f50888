// Naive baselines for the closing comparison: one invocation per output, every operand read
// straight from global memory, no tiling, no register blocking.

import type { GpuBackend } from '#engine/backends/gpu';
import { full } from '#engine/autograd/ops/creation';
import type { Tensor } from '#engine/autograd/tensor';
import type { Kernel } from '#engine/gpu/context';
import type { KernelCase } from './case.js';

const buffer = (t: Tensor) => ({ buffer: t.storage.handle as GPUBuffer });

const POINTWISE: Kernel = {
  name: 'naive_pointwise',
  params: ['C', 'K', 'HW'],
  wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let p = gid.x;
  let k = gid.y;
  let n = gid.z;
  if (p >= P.HW) { return; }
  var acc = 0.0;
  for (var c = 0u; c < P.C; c++) { acc += w[k * P.C + c] * x[(n * P.C + c) * P.HW + p]; }
  y[(n * P.K + k) * P.HW + p] = acc;
}
`,
};

const DEPTHWISE: Kernel = {
  name: 'naive_depthwise',
  params: ['C', 'H', 'W'],
  wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.y;
  let n = gid.z;
  if (gid.x >= P.H * P.W) { return; }
  let h = i32(gid.x / P.W);
  let wx = i32(gid.x % P.W);
  var acc = 0.0;
  for (var kh = 0; kh < 3; kh++) {
    for (var kw = 0; kw < 3; kw++) {
      let ih = h + kh - 1;
      let iw = wx + kw - 1;
      if (ih >= 0 && ih < i32(P.H) && iw >= 0 && iw < i32(P.W)) {
        acc += x[((n * P.C + c) * P.H + u32(ih)) * P.W + u32(iw)] * w[c * 9u + u32(kh * 3 + kw)];
      }
    }
  }
  y[(n * P.C + c) * P.H * P.W + gid.x] = acc;
}
`,
};

export function naivePointwise(b: GpuBackend, N: number, c: number, hw: number): KernelCase[] {
  return [
    {
      kernel: 'conv 1x1, naive (1 output per invocation)',
      shape: `${c}->${c} @ ${hw}x${hw}`,
      batch: N,
      flops: 2 * N * c * c * hw * hw,
      setup: () => {
        const [x, w, y] = [full([N, c, hw, hw], 0.5), full([c, c], 0.01), full([N, c, hw, hw], 0)];
        return () => b.gpu.run(POINTWISE, [buffer(x), buffer(w), buffer(y)], [Math.ceil((hw * hw) / 64), c, N], { C: c, K: c, HW: hw * hw });
      },
    },
  ];
}

export function naiveDepthwise(b: GpuBackend, N: number, c: number, hw: number): KernelCase[] {
  return [
    {
      kernel: 'depthwise 3x3, naive (1 output per invocation)',
      shape: `${c} @ ${hw}x${hw} s1`,
      batch: N,
      bytes: 8 * N * c * hw * hw,
      setup: () => {
        const [x, w, y] = [full([N, c, hw, hw], 0.5), full([c, 9], 0.1), full([N, c, hw, hw], 0)];
        return () => b.gpu.run(DEPTHWISE, [buffer(x), buffer(w), buffer(y)], [Math.ceil((hw * hw) / 64), c, N], { C: c, H: hw, W: hw });
      },
    },
  ];
}
