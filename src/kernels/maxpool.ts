// Max pooling, forward: y[n,c,oh,ow] = max over the window of x, and, where a backward pass will
// need it (not in inference), argmax = h*W + w of the first maximum in scan order (a NaN wins, as in
// PyTorch). The first tap inside the image seeds the maximum.
//
// Tiling: one invocation per run of 4 neighbouring outputs of a row, all runs of all planes in one
// flat range (grid-stride, so any batch fits the dispatch limit). Each input row segment the run's
// windows share (K + 3*stride values) is read once per window row, on llvmpipe (DeviceProfile
// windowQuads) as aligned quads where the layout allows (window_common.ts: a quarter of the loads;
// the stem's output always does), and the run's outputs are stored as one quad where theirs does;
// the comparisons are generated, unrolled over named scalars.

import { type Gpu, memoKernel } from '../gpu/context.js';
import { type View, view } from './view.js';
import { type PoolGeometry, quadRowLoads, quadRows, unrolled } from './window_common.js';

const RUN = 4;
const X = view('x', ['N', 'C', 'H'], ['W']);
/** The output's layout, which argmax shares. */
const Y = view('y', ['N', 'C', 'H'], ['W']);

const kernel = memoKernel('maxpool', (K: number, S: number, padding: number, quadsIn: boolean, quadsOut: boolean, withArgmax: boolean, workgroup: number) => {
  const span = K + (RUN - 1) * S;
  const store = quadsOut
    ? `y[yAt(out, ow0) / 4u] = vec4(${unrolled(RUN, (j) => `best${j}`, ', ')});${withArgmax ? `\n    argmax[yAt(out, ow0) / 4u] = vec4(${unrolled(RUN, (j) => `at${j}`, ', ')});` : ''}`
    : unrolled(
        RUN,
        (j) =>
          `if (ow0 + ${j}u < P.OW) {\n      let o = yAt(out, ow0 + ${j}u);\n      y[o] = best${j};${withArgmax ? `\n      argmax[o] = at${j};` : ''}\n    }`,
        '\n    ',
      );
  const updates = Array.from({ length: RUN }, (_, j) =>
    Array.from({ length: K }, (_, kw) => {
      const i = j * S + kw;
      return `if (ok${i} && (v${i} > best${j} || v${i} != v${i} || at${j} < 0)) { best${j} = v${i}; at${j} = rowAt + w${i}; }`;
    }),
  ).flat();
  return {
    params: ['H', 'W', 'OH', 'OW', 'C', 'runs', 'total', ...X.params, ...Y.params],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<${quadsIn ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read_write> y: array<${quadsOut ? 'vec4<f32>' : 'f32'}>;
${withArgmax ? `@group(0) @binding(3) var<storage, read_write> argmax: array<${quadsOut ? 'vec4<i32>' : 'i32'}>;` : ''}

${X.wgsl}${Y.wgsl}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var item = gid.x; item < P.total; item += groups.x * ${workgroup}u) {
    let ow0 = (item % P.runs) * ${RUN}u;
    let oh = (item / P.runs) % P.OH;
    let c = (item / (P.runs * P.OH)) % P.C;
    let n = item / (P.runs * P.OH * P.C);
    let first = i32(ow0 * ${S}u) - ${padding};
    ${unrolled(span, (i) => `let w${i} = first + ${i};\n    let ok${i} = w${i} >= 0 && w${i} < i32(P.W);\n    let col${i} = u32(clamp(w${i}, 0, i32(P.W) - 1));`, '\n    ')}
    ${quadsIn ? `let q0 = i32(ow0 * ${S}u / 4u);\n    let quads = i32(P.W / 4u);` : ''}
    ${unrolled(RUN, (j) => `var best${j} = 0.0;\n    var at${j} = -1;`, '\n    ')}
    for (var kh = 0; kh < ${K}; kh++) {
      let h = i32(oh * ${S}u) - ${padding} + kh;
      if (h < 0 || h >= i32(P.H)) { continue; }
      let row = xBase(n, c, u32(h));
      let rowAt = h * i32(P.W);
      ${quadsIn ? quadRowLoads('x', span, -padding, 'true') : unrolled(span, (i) => `let v${i} = x[xAt(row, col${i})];`)}
      ${updates.join('\n      ')}
    }
    let out = yBase(n, c, oh);
    ${store}
  }
}
`,
  };
});

/** x, y and argmax are NCHW views; argmax (null: not needed) has y's layout. */
export function maxPool(gpu: Gpu, g: PoolGeometry, x: View, y: View, argmax: View | null): void {
  if (argmax && (argmax.offset !== y.offset || argmax.strides.some((s, d) => s !== y.strides[d])))
    throw new Error('max_pool2d: argmax must have the layout of the output');
  const workgroup = gpu.profile.workgroup;
  const runs = Math.ceil(g.OW / RUN);
  const total = g.N * g.C * g.OH * runs;
  const quads = gpu.profile.windowQuads;
  const quadsIn = quads && quadRows(x, g.W) && (RUN * g.stride) % 4 === 0;
  const k = kernel(g.kernel, g.stride, g.padding, quadsIn, quads && quadRows(y, g.OW), argmax !== null, workgroup);
  const bindings = argmax ? [x.binding, y.binding, argmax.binding] : [x.binding, y.binding];
  gpu.run(k, bindings, [gpu.groupsFor(total, workgroup)], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    C: g.C,
    runs,
    total,
    ...X.values(x),
    ...Y.values(y),
  });
}
