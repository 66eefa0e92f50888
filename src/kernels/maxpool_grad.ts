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

import { type Gpu, memoKernel } from '../gpu/context.js';
import { type View, view } from './view.js';
import { columnAt, type PoolGeometry, runLength, runTaps, tapRows, unrolled } from './window_common.js';

const DY = view('y', ['N', 'C', 'H'], ['W']);
const ARGMAX = view('a', ['N', 'C', 'H'], ['W']);
const DX = view('x', ['N', 'C', 'H'], ['W']);

const kernel = memoKernel('maxpool_grad', (K: number, S: number, padding: number, workgroup: number) => {
  const R = runLength(S);
  const { taps, columns } = runTaps(K, S, padding, R);
  const sums = taps.flatMap((row, j) => row.flatMap((i) => (i === null ? [] : [`acc${j} += select(0.0, d${i}, a${i} == me + ${j});`])));
  const rowBody = `let dyRow = yBase(n, c, oh);
      let argRow = aBase(n, c, oh);
      ${columns
        .map((o, i) => {
          const col = columnAt(o);
          const at = `u32(clamp(${col}, 0, i32(P.OW) - 1))`;
          return `let d${i} = dy[yAt(dyRow, ${at})];\n      let a${i} = select(-1, argmax[aAt(argRow, ${at})], ${col} >= 0 && ${col} < i32(P.OW));`;
        })
        .join('\n      ')}
      ${sums.join('\n      ')}`;
  return {
    params: ['H', 'W', 'OH', 'OW', 'C', 'runs', 'total', ...DY.params, ...ARGMAX.params, ...DX.params],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> argmax: array<i32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

${DY.wgsl}${ARGMAX.wgsl}${DX.wgsl}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var item = gid.x; item < P.total; item += groups.x * ${workgroup}u) {
    let w0 = (item % P.runs) * ${R}u;
    let h = (item / P.runs) % P.H;
    let c = (item / (P.runs * P.H)) % P.C;
    let n = item / (P.runs * P.H * P.C);
    let col0 = i32(w0 / ${S}u);
    // The flat index (h * W + w) of element 0 of the run, as the forward saved it.
    let me = i32(h * P.W + w0);
    ${unrolled(R, (j) => `var acc${j} = 0.0;`, '\n    ')}
    ${tapRows(K, S, padding, rowBody)}
    let out = xBase(n, c, h);
    ${unrolled(R, (j) => `if (w0 + ${j}u < P.W) { dx[xAt(out, w0 + ${j}u)] = acc${j}; }`, '\n    ')}
  }
}
`,
  };
});

/** dy, argmax (the output's shape) and dx are NCHW views. */
export function maxPoolGrad(gpu: Gpu, g: PoolGeometry, dy: View, argmax: View, dx: View): void {
  const workgroup = gpu.profile.workgroup;
  const runs = Math.ceil(g.W / runLength(g.stride));
  const total = g.N * g.C * g.H * runs;
  gpu.run(kernel(g.kernel, g.stride, g.padding, workgroup), [dy.binding, argmax.binding, dx.binding], [gpu.groupsFor(total, workgroup)], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    C: g.C,
    runs,
    total,
    ...DY.values(dy),
    ...ARGMAX.values(argmax),
    ...DX.values(dx),
  });
}
