// Depthwise convolution, input gradient, as a forward-style gather: dx[n,c,h,w] = sum over the taps
// (kh, kw) that land on (h, w) of dy[n,c,oh,ow] * w[c,kh,kw], with oh = (h + p - kh) / s and
// ow = (w + p - kw) / s where they divide exactly. For stride 1 this is a depthwise forward of dy with
// the taps rotated by 180 degrees and padding K-1-p; for stride s the taps a position takes depend
// only on its parity (its position mod s), so no test per tap.
//
// Tiling: one invocation per run of R neighbouring input elements of a row (R a multiple of the
// stride, so every run starts on the same phase: window_common.ts), all runs of all planes of the
// batch in one flat range walked grid-stride (any batch fits the dispatch limit). Along the row
// everything is known when the kernel is generated: which taps each of the R elements takes and which
// dy column each reads, so the code is unrolled over named scalars (no per-invocation arrays:
// SwiftShader keeps those in memory), the dy row segment the run shares read once. Down the column
// the phase of h picks the first tap row, then every s-th (ceil(K/s) rows at most).

import { type Binding, type Gpu, memoKernel } from '../gpu/context.js';
import { CONV_X, CONV_Y, type ConvGeometry } from './conv_common.js';
import { columnAt, runLength, runTaps, tapRows, unrolled } from './window_common.js';

const kernel = memoKernel('depthwise_grad_input', (KH: number, KW: number, SH: number, SW: number, PH: number, PW: number, workgroup: number) => {
  const R = runLength(SW);
  const { taps, columns } = runTaps(KW, SW, PW, R);
  const products = taps.flatMap((row, j) => row.flatMap((i, kw) => (i === null ? [] : [`acc${j} = fma(d${i}, t${kw}, acc${j});`])));
  const rowBody = `let row = yBase(n, c, oh);
      let tapRow = c * ${KH * KW}u + kh * ${KW}u;
      ${unrolled(KW, (kw) => `let t${kw} = w[tapRow + ${kw}u];`)}
      ${columns
        .map(
          (o, i) => `let d${i} = select(0.0, dy[yAt(row, u32(clamp(${columnAt(o)}, 0, i32(P.OW) - 1)))], ${columnAt(o)} >= 0 && ${columnAt(o)} < i32(P.OW));`,
        )
        .join('\n      ')}
      ${products.join('\n      ')}`;
  return {
    params: ['H', 'W', 'OH', 'OW', 'C', 'runs', 'total', ...CONV_X.params, ...CONV_Y.params],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;

${CONV_X.wgsl}${CONV_Y.wgsl}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var item = gid.x; item < P.total; item += groups.x * ${workgroup}u) {
    let w0 = (item % P.runs) * ${R}u;
    let h = (item / P.runs) % P.H;
    let c = (item / (P.runs * P.H)) % P.C;
    let n = item / (P.runs * P.H * P.C);
    let col0 = i32(w0 / ${SW}u);
    ${unrolled(R, (j) => `var acc${j} = 0.0;`, '\n    ')}
    ${tapRows(KH, SH, PH, rowBody)}
    let out = xBase(n, c, h);
    ${unrolled(R, (j) => `if (w0 + ${j}u < P.W) { dx[xAt(out, w0 + ${j}u)] = acc${j}; }`, '\n    ')}
  }
}
`,
  };
});

/** The geometry's y is dy, its x is dx; w the weights [C, 1, KH, KW] bound from their first element. */
export function depthwiseGradInput(gpu: Gpu, g: ConvGeometry, w: Binding): void {
  const workgroup = gpu.profile.workgroup;
  const runs = Math.ceil(g.W / runLength(g.stride[1]));
  const total = g.N * g.C * g.H * runs;
  const k = kernel(g.kernel[0], g.kernel[1], g.stride[0], g.stride[1], g.padding[0], g.padding[1], workgroup);
  gpu.run(k, [g.y.binding, w, g.x.binding], [gpu.groupsFor(total, workgroup)], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    C: g.C,
    runs,
    total,
    ...CONV_X.values(g.x),
    ...CONV_Y.values(g.y),
  });
}
