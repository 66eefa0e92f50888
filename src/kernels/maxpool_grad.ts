// Max pooling, backward, from the argmax the forward saved: dx[n,c,h,w] = sum of dy over the outputs
// whose window holds (h, w) and whose argmax is (h, w). A gather: every invocation visits the few
// windows covering its elements, so no two invocations write the same place (the scatter of
// PyTorch's kernel would need atomics on f32).
//
// Tiling: as the depthwise input gradient (window_common.ts): one invocation per run of R
// neighbouring input elements of a row, all runs of all planes in one flat range (grid-stride); the
// windows each element of the run lies in are known from its phase when the kernel is generated, so
// the code is unrolled over named scalars, the dy and argmax row segments the run shares read once;
// down the column the phase of h picks the first window row.

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import { columnAt, type PoolGeometry, runLength, runTaps, tapRows, unrolled } from './window_common.js';

function kernel(g: PoolGeometry, workgroup: number): Kernel {
  const R = runLength(g.stride);
  const { taps, columns } = runTaps(g.kernel, g.stride, g.padding, R);
  const sums = taps.flatMap((row, j) => row.flatMap((i) => (i === null ? [] : [`acc${j} += select(0.0, d${i}, a${i} == me + ${j});`])));
  const rowBody = `let dyRow = dyPlane + oh * P.yH;
      let argRow = argPlane + oh * P.OW;
      ${columns
        .map((o, i) => {
          const col = columnAt(o);
          const at = `u32(clamp(${col}, 0, i32(P.OW) - 1))`;
          return `let d${i} = dy[dyRow + ${at} * P.yW];\n      let a${i} = select(-1, argmax[argRow + ${at}], ${col} >= 0 && ${col} < i32(P.OW));`;
        })
        .join('\n      ')}
      ${sums.join('\n      ')}`;
  return {
    name: `maxpool_grad_${g.kernel}_s${g.stride}`,
    params: ['H', 'W', 'OH', 'OW', 'C', 'runs', 'total', 'yOff', 'yN', 'yC', 'yH', 'yW'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> argmax: array<i32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var item = gid.x; item < P.total; item += groups.x * ${workgroup}u) {
    let w0 = (item % P.runs) * ${R}u;
    let h = (item / P.runs) % P.H;
    let plane = item / (P.runs * P.H);
    let dyPlane = P.yOff + (plane / P.C) * P.yN + (plane % P.C) * P.yC;
    let argPlane = plane * P.OH * P.OW;
    let col0 = i32(w0 / ${g.stride}u);
    // The flat index (h * W + w) of element 0 of the run, as the forward saved it.
    let me = i32(h * P.W + w0);
    ${unrolled(R, (j) => `var acc${j} = 0.0;`, '\n    ')}
    ${tapRows(g.kernel, g.stride, g.padding, rowBody)}
    let out = plane * P.H * P.W + h * P.W + w0;
    ${unrolled(R, (j) => `if (w0 + ${j}u < P.W) { dx[out + ${j}u] = acc${j}; }`, '\n    ')}
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
  const runs = Math.ceil(g.W / runLength(g.stride));
  const total = g.N * g.C * g.H * runs;
  gpu.run(kernel(g, workgroup), [dy, argmax, dx], [gpu.groupsFor(total, workgroup)], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    C: g.C,
    runs,
    total,
    ...dyStrides,
  });
}
