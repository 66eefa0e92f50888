// Depthwise convolution (groups = channels, one filter per channel), forward:
// y[n,c,oh,ow] = epilogue(sum over kh, kw of x[n,c,oh*s-p+kh,ow*s-p+kw] * w[c,kh,kw]).
//
// Tiling: one invocation per run of 4 neighbouring outputs of a row, all runs of all planes of the
// batch in one flat range (small feature maps still fill whole workgroups), walked grid-stride so that
// any batch fits the dispatch limit. Each input row segment the 4 outputs share is read once
// (KW + 3*stride values per tap row), the code generated and unrolled over named scalars (no
// per-invocation arrays: SwiftShader keeps those in memory). Kernel size, stride and padding are baked
// in. Input and output are strided views (channel slices need no copy).

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import { type ConvGeometry, type EpilogueBindings, epilogueCode } from './conv_common.js';
import { unrolled } from './window_common.js';

const RUN = 4;

function kernel(g: ConvGeometry, epi: EpilogueBindings, workgroup: number): Kernel {
  const [KH, KW] = g.kernel;
  const [SH, SW] = g.stride;
  const span = KW + (RUN - 1) * SW;
  const products = Array.from({ length: RUN }, (_, j) => unrolled(KW, (kw) => `acc${j} = fma(v${j * SW + kw}, t${kw}, acc${j});`)).join('\n      ');
  return {
    name: `depthwise_${KH}x${KW}_s${SH}`,
    params: ['H', 'W', 'OH', 'OW', 'C', 'runs', 'total', 'xOff', 'xN', 'xC', 'xH', 'xW', 'yOff', 'yN', 'yC', 'yH', 'yW', 'scaleOff', 'shiftOff'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${epi.declarations(4)}

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var item = gid.x; item < P.total; item += groups.x * ${workgroup}u) {
    let ow0 = (item % P.runs) * ${RUN}u;
    let oh = (item / P.runs) % P.OH;
    let c = (item / (P.runs * P.OH)) % P.C;
    let n = item / (P.runs * P.OH * P.C);
    let plane = P.xOff + n * P.xN + c * P.xC;
    let w0 = i32(ow0 * ${SW}u) - ${g.padding[1]};
    ${unrolled(span, (i) => `let ok${i} = w0 + ${i} >= 0 && w0 + ${i} < i32(P.W);\n    let col${i} = u32(clamp(w0 + ${i}, 0, i32(P.W) - 1)) * P.xW;`, '\n    ')}
    ${unrolled(RUN, (j) => `var acc${j} = 0.0;`, '\n    ')}
    for (var kh = 0u; kh < ${KH}u; kh++) {
      let h = i32(oh * ${SH}u + kh) - ${g.padding[0]};
      if (h < 0 || h >= i32(P.H)) { continue; }
      let row = plane + u32(h) * P.xH;
      let tapRow = c * ${KH * KW}u + kh * ${KW}u;
      ${unrolled(KW, (kw) => `let t${kw} = w[tapRow + ${kw}u];`)}
      ${unrolled(span, (i) => `let v${i} = select(0.0, x[row + col${i}], ok${i});`)}
      ${products}
    }
    let out = P.yOff + n * P.yN + c * P.yC + oh * P.yH;
    ${unrolled(
      RUN,
      (j) => `if (ow0 + ${j}u < P.OW) {
      var v = acc${j};
      ${epilogueCode(epi, 'v', 'c')}
      y[out + (ow0 + ${j}u) * P.yW] = v;
    }`,
      '\n    ',
    )}
  }
}
`,
  };
}

export function depthwiseForward(gpu: Gpu, g: ConvGeometry, x: Binding, w: Binding, y: Binding, epi: EpilogueBindings): void {
  const workgroup = gpu.profile.workgroup;
  const runs = Math.ceil(g.OW / RUN);
  const total = g.N * g.C * g.OH * runs;
  gpu.run(kernel(g, epi, workgroup), [x, w, y, ...epi.bindings], [gpu.groupsFor(total, workgroup)], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    C: g.C,
    runs,
    total,
    ...g.xStrides,
    ...g.yStrides,
    ...epi.offsets,
  });
}
