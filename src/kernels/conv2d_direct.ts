// Direct 2-D convolution for few input channels (the stem: 3 channels, 3x3, stride 2), forward:
// y[n,k,oh,ow] = epilogue(sum over c, kh, kw of x[n,c,oh*s-p+kh,ow*s-p+kw] * w[k,c,kh,kw]),
// with no patch matrix: on the software adapters im2col's writes and the product's reads of those
// 27 rows cost several times the convolution itself.
//
// Tiling: a workgroup owns a block of KB output channels (grid-stride over the blocks) and a slice
// of the output runs (y of the grid); each invocation computes runs of 4 neighbouring outputs of a
// row for the KB channels, about 32 runs in all. The block's KB * C * KH * KW weights and its
// epilogue vectors are read once per invocation, at addresses equal across the workgroup, and held
// in named scalars; per run, each input row segment (KW + 3*stride values per channel and tap row)
// is read once and feeds KB * 4 outputs, and on llvmpipe (DeviceProfile windowQuads), where the
// output's layout allows, each channel's 4 outputs are stored as one quad. On llvmpipe, where every
// storage load or store is a loop over the lanes, 12 channels a block and ~32 runs an invocation took
// the stem (x0_5, batch 8, 112x112) from 13 ms of CPU time (im2col and the product) to 4-5;
// SwiftShader ~2.5x. Code generated unrolled
// over named scalars (SwiftShader keeps per-invocation arrays in memory). Channels, kernel size,
// stride and padding are baked in; input and output are strided views.

import { type Binding, type Gpu, memoKernel } from '../gpu/context.js';
import {
  CONV_X,
  CONV_Y,
  type ConvGeometry,
  channelEpilogue,
  channelEpilogueLoads,
  EPILOGUE_PARAMS,
  type EpilogueBindings,
  epilogueDeclarations,
} from './conv_common.js';
import { quadRows, runColumns, runStores, runValues, tapRow, unrolled } from './window_common.js';

const RUN = 4;
/** Output channels per invocation. */
const KB = 12;
const RUNS_PER_INVOCATION = 32;

const kernel = memoKernel(
  'conv2d_direct',
  (
    C: number,
    KH: number,
    KW: number,
    SH: number,
    SW: number,
    PH: number,
    PW: number,
    quadsOut: boolean,
    scale: boolean,
    shift: boolean,
    relu: boolean,
    workgroup: number,
  ) => {
    const epi = { scale, shift, relu };
    const span = KW + (RUN - 1) * SW;
    const taps = C * KH * KW;
    const weight = (b: number, c: number, kh: number, kw: number) => `w${b}_${c}_${kh}_${kw}`;
    const rows: string[] = [];
    for (let c = 0; c < C; c++)
      for (let kh = 0; kh < KH; kh++)
        rows.push(`{
      ${tapRow(`${c}u`, kh, SH, PH)}
      ${runValues(span, 'okRow')}
      ${unrolled(KB * RUN * KW, (t) => {
        const [b, j, kw] = [Math.floor(t / (RUN * KW)), Math.floor(t / KW) % RUN, t % KW];
        return `acc${b}_${j} += v${j * SW + kw} * ${weight(b, c, kh, kw)};`;
      })}
    }`);
    const stores = unrolled(
      KB,
      (b) => `if (k0 + ${b}u < P.K) {
      let out = yBase(n, k0 + ${b}u, oh);
      ${
        quadsOut
          ? `var v = vec4(${unrolled(RUN, (j) => `acc${b}_${j}`, ', ')});\n      ${channelEpilogue(epi, 'v', 'vec4<f32>', `${b}`)}\n      y[yAt(out, ow0) / 4u] = v;`
          : runStores(
              RUN,
              (j) => `acc${b}_${j}`,
              (v) => channelEpilogue(epi, v, 'f32', `${b}`),
            )
      }
    }`,
      '\n    ',
    );
    return {
      params: ['H', 'W', 'OH', 'OW', 'K', 'blocks', 'runs', 'total', ...CONV_X.params, ...CONV_Y.params, ...EPILOGUE_PARAMS],
      wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<${quadsOut ? 'vec4<f32>' : 'f32'}>;
${epilogueDeclarations(epi, 4)}

${CONV_X.wgsl}${CONV_Y.wgsl}
@compute @workgroup_size(${workgroup})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var block = wg.x; block < P.blocks; block += groups.x) {
  let k0 = block * ${KB}u;
  ${unrolled(KB, (b) => `let filter${b} = min(k0 + ${b}u, P.K - 1u);\n  ${channelEpilogueLoads(epi, `filter${b}`, `${b}`)}`, '\n  ')}
  ${unrolled(
    KB * taps,
    (t) => {
      const [b, c, kh, kw] = [Math.floor(t / taps), Math.floor(t / (KH * KW)) % C, Math.floor(t / KW) % KH, t % KW];
      return `let ${weight(b, c, kh, kw)} = w[filter${b} * ${taps}u + ${t % taps}u];`;
    },
    '\n  ',
  )}
  for (var item = wg.y * ${workgroup}u + lid; item < P.total; item += groups.y * ${workgroup}u) {
    let ow0 = (item % P.runs) * ${RUN}u;
    let oh = (item / P.runs) % P.OH;
    let n = item / (P.runs * P.OH);
    ${runColumns(span, SW, PW)}
    ${unrolled(KB * RUN, (t) => `var acc${Math.floor(t / RUN)}_${t % RUN} = 0.0;`, '\n    ')}
    ${rows.join('\n    ')}
    ${stores}
  }
  }
}
`,
    };
  },
);

/** For convolutions with groups = 1 and few input channels; w [K, C, KH, KW] bound from its first element. */
export function conv2dDirect(gpu: Gpu, g: ConvGeometry, w: Binding, epi: EpilogueBindings): void {
  const workgroup = gpu.profile.workgroup;
  const runs = Math.ceil(g.OW / RUN);
  const total = g.N * g.OH * runs;
  const blocks = Math.ceil(g.K / KB);
  const [KH, KW] = g.kernel;
  // Output rows stored as quads where the layout allows (the stem's output): a quarter of the stores.
  // (Reading the input rows as quads as well, as the max pool does, took llvmpipe a further 15% but
  // hangs SwiftShader in this kernel.)
  const k = kernel(g.C, KH, KW, g.stride[0], g.stride[1], g.padding[0], g.padding[1], gpu.profile.windowQuads && quadRows(g.y, g.OW), ...epi.flags, workgroup);
  // Slices of about RUNS_PER_INVOCATION runs per invocation: the weights read per invocation are
  // spread over several runs, and a block's work still spreads over the device's threads.
  const slices = gpu.groupsFor(total, workgroup * RUNS_PER_INVOCATION);
  gpu.run(k, [g.x.binding, w, g.y.binding, ...epi.bindings], [Math.min(blocks, gpu.maxGroups), slices], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    K: g.K,
    blocks,
    runs,
    total,
    ...CONV_X.values(g.x),
    ...CONV_Y.values(g.y),
    ...epi.offsets,
  });
}
