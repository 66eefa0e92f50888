// Max pooling, forward: y[n,c,oh,ow] = max over the window of x, and argmax = h*W + w of the first
// maximum in scan order (a NaN wins, as in PyTorch), kept for the backward pass. The first tap
// inside the image seeds the maximum.
//
// Tiling: one invocation per run of 4 neighbouring outputs of a row, all runs of all planes in one
// flat range (grid-stride, so any batch fits the dispatch limit). Each input row segment the run's
// windows share (K + 3*stride values) is read once per window row; the comparisons are generated,
// unrolled over named scalars (window_common.ts).

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import { type PoolGeometry, unrolled } from './window_common.js';

const RUN = 4;

function kernel(g: PoolGeometry, workgroup: number): Kernel {
  const { kernel: K, stride: S, padding } = g;
  const span = K + (RUN - 1) * S;
  const updates = Array.from({ length: RUN }, (_, j) =>
    Array.from({ length: K }, (_, kw) => {
      const i = j * S + kw;
      return `if (ok${i} && (v${i} > best${j} || v${i} != v${i} || at${j} < 0)) { best${j} = v${i}; at${j} = rowAt + w${i}; }`;
    }),
  ).flat();
  return {
    name: `maxpool_${K}_s${S}`,
    params: ['H', 'W', 'OH', 'OW', 'C', 'runs', 'total', 'xOff', 'xN', 'xC', 'xH', 'xW'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<i32>;

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var item = gid.x; item < P.total; item += groups.x * ${workgroup}u) {
    let ow0 = (item % P.runs) * ${RUN}u;
    let oh = (item / P.runs) % P.OH;
    let plane = item / (P.runs * P.OH);
    let base = P.xOff + (plane / P.C) * P.xN + (plane % P.C) * P.xC;
    let first = i32(ow0 * ${S}u) - ${padding};
    ${unrolled(span, (i) => `let w${i} = first + ${i};\n    let ok${i} = w${i} >= 0 && w${i} < i32(P.W);\n    let col${i} = u32(clamp(w${i}, 0, i32(P.W) - 1)) * P.xW;`, '\n    ')}
    ${unrolled(RUN, (j) => `var best${j} = 0.0;\n    var at${j} = -1;`, '\n    ')}
    for (var kh = 0; kh < ${K}; kh++) {
      let h = i32(oh * ${S}u) - ${padding} + kh;
      if (h < 0 || h >= i32(P.H)) { continue; }
      let row = base + u32(h) * P.xH;
      let rowAt = h * i32(P.W);
      ${unrolled(span, (i) => `let v${i} = x[row + col${i}];`)}
      ${updates.join('\n      ')}
    }
    let out = plane * P.OH * P.OW + oh * P.OW + ow0;
    ${unrolled(RUN, (j) => `if (ow0 + ${j}u < P.OW) {\n      y[out + ${j}u] = best${j};\n      argmax[out + ${j}u] = at${j};\n    }`, '\n    ')}
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
  const runs = Math.ceil(g.OW / RUN);
  const total = g.N * g.C * g.OH * runs;
  gpu.run(kernel(g, workgroup), [x, y, argmax], [gpu.groupsFor(total, workgroup)], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    C: g.C,
    runs,
    total,
    ...xStrides,
  });
}
