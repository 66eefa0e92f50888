// Depthwise convolution (groups = channels, one filter per channel), forward:
// y[n,c,oh,ow] = epilogue(sum over kh, kw of x[n,c,oh*s-p+kh,ow*s-p+kw] * w[c,kh,kw]).
//
// Tiling: one invocation per run of 4 neighbouring outputs of a row; each input row segment the 4
// outputs share is read once (KW + 3*stride values per tap row), the code generated and unrolled over
// named scalars (no per-invocation arrays: SwiftShader keeps those in memory). Two ways to hand out
// the runs (DeviceProfile.depthwiseTiling):
// - 'flat': all runs of all planes of the batch in one flat range, walked grid-stride (small feature
//   maps still fill whole workgroups; any batch fits the dispatch limit), the taps read per tap row;
// - 'channel': one workgroup per channel (grid-stride over the channels), its invocations walking the
//   runs of that channel in every image. The channel's taps and epilogue vectors are read once per
//   invocation, at addresses equal across the workgroup, instead of once per run: on the software
//   adapters, where every storage load costs a per-lane loop or a gather, 1.3-3x the flat form.
//   An invocation takes the run in 1, 2 or 4 neighbouring output rows (rowsPerInvocation), so that
//   each input row the rows share is read once: 4 rows of a 3x3 stride-1 layer read 6 input rows,
//   not 12.
// Kernel size, stride and padding are baked in. Input and output are strided views (channel slices
// need no copy).

import { type Binding, type Gpu, memoKernel } from '../gpu/context.js';
import type { DepthwiseTiling } from '../gpu/profile.js';
import {
  CONV_X,
  CONV_Y,
  type ConvGeometry,
  channelEpilogue,
  channelEpilogueLoads,
  EPILOGUE_PARAMS,
  type EpilogueBindings,
  epilogueCode,
  epilogueDeclarations,
} from './conv_common.js';
import { runColumns, runStores, runValues, tapRow, unrolled } from './window_common.js';

const RUN = 4;

const kernel = memoKernel(
  'depthwise',
  (
    tiling: DepthwiseTiling,
    KH: number,
    KW: number,
    SH: number,
    SW: number,
    PH: number,
    PW: number,
    scale: boolean,
    shift: boolean,
    relu: boolean,
    workgroup: number,
    ROWS: number,
  ) => {
    const epi = { scale, shift, relu };
    const span = KW + (RUN - 1) * SW;
    const byChannel = tiling === 'channel';
    const tap = (kh: number | string, kw: number) => (byChannel ? `t${kh}_${kw}` : `t${kw}`);
    const columns = runColumns(span, SW, PW);
    // The channel tiling: ROWS output rows of a run per invocation, input row t feeding output row r
    // through tap row t - r * stride. fma() costs more than a multiply and an add on SwiftShader (no
    // fused multiply-add in its x86 code).
    const rowProducts = (t: number) =>
      unrolled(ROWS, (r) => {
        const kh = t - r * SH;
        return kh < 0 || kh >= KH
          ? ''
          : Array.from({ length: RUN }, (_, j) => unrolled(KW, (kw) => `acc${r}_${j} += v${j * SW + kw} * ${tap(kh, kw)};`)).join('\n      ');
      });
    const rowStore = (r: number) => `if (oh0 + ${r}u < P.OH) {
      let out = yBase(n, c, oh0 + ${r}u);
      ${runStores(
        RUN,
        (j) => `acc${r}_${j}`,
        (v) => channelEpilogue(epi, v),
      )}
    }`;
    const main = byChannel
      ? /* wgsl */ `
@compute @workgroup_size(${workgroup})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var c = wg.x; c < P.C; c += groups.x) {
  ${unrolled(KH * KW, (t) => `let ${tap(Math.floor(t / KW), t % KW)} = w[c * ${KH * KW}u + ${t}u];`, '\n  ')}
  ${channelEpilogueLoads(epi, 'c')}
  for (var item = lid; item < P.total; item += ${workgroup}u) {
    let ow0 = (item % P.runs) * ${RUN}u;
    let oh0 = ((item / P.runs) % P.rowBlocks) * ${ROWS}u;
    let n = item / (P.runs * P.rowBlocks);
    ${columns}
    ${unrolled(ROWS * RUN, (i) => `var acc${Math.floor(i / RUN)}_${i % RUN} = 0.0;`, '\n    ')}
    ${unrolled(
      (ROWS - 1) * SH + KH,
      (t) => `{
      ${tapRow('c', t, SH, PH, 'oh0')}
      ${runValues(span, 'okRow')}
      ${rowProducts(t)}
    }`,
      '\n    ',
    )}
    ${unrolled(ROWS, rowStore, '\n    ')}
  }
  }
}`
      : /* wgsl */ `
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  for (var item = gid.x; item < P.total; item += groups.x * ${workgroup}u) {
    let ow0 = (item % P.runs) * ${RUN}u;
    let oh = (item / P.runs) % P.OH;
    let c = (item / (P.runs * P.OH)) % P.C;
    let n = item / (P.runs * P.OH * P.C);
    ${columns}
    ${unrolled(RUN, (j) => `var acc${j} = 0.0;`, '\n    ')}
    for (var kh = 0u; kh < ${KH}u; kh++) {
      let h = i32(oh * ${SH}u + kh) - ${PH};
      if (h < 0 || h >= i32(P.H)) { continue; }
      let row = xBase(n, c, u32(h));
      let tapRow = c * ${KH * KW}u + kh * ${KW}u;
      ${unrolled(KW, (kw) => `let ${tap('kh', kw)} = w[tapRow + ${kw}u];`)}
      ${runValues(span)}
      ${Array.from({ length: RUN }, (_, j) => unrolled(KW, (kw) => `acc${j} = fma(v${j * SW + kw}, ${tap('kh', kw)}, acc${j});`)).join('\n      ')}
    }
    let out = yBase(n, c, oh);
    ${runStores(
      RUN,
      (j) => `acc${j}`,
      (v) => epilogueCode(epi, v, 'c'),
    )}
  }
}`;
    return {
      params: ['H', 'W', 'OH', 'OW', 'C', 'runs', 'total', ...(byChannel ? ['rowBlocks'] : []), ...CONV_X.params, ...CONV_Y.params, ...EPILOGUE_PARAMS],
      wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
${epilogueDeclarations(epi, 4)}

${CONV_X.wgsl}${CONV_Y.wgsl}${main}
`,
    };
  },
);

/**
 * Output rows per invocation in the channel tiling: the most of 4, 2 and 1 whose input rows
 * ((rows - 1) * stride + KH) stay within 6 and whose blocks are at least 7 rows tall. Measured on
 * x0_5's layers (batch 8): 28x28 maps 1.3-1.4x faster with 4 rows on both adapters, 14x14 1.2x with 2,
 * 7x7 slower with any; 9 input rows (4 rows at stride 2) spill on SwiftShader (1.4x slower than 2).
 */
function rowsPerInvocation(OH: number, KH: number, stride: number): number {
  return [4, 2].find((rows) => (rows - 1) * stride + KH <= 6 && OH >= 7 * rows) ?? 1;
}

/** w: the weights [C, 1, KH, KW] bound from their first element. */
export function depthwiseForward(gpu: Gpu, g: ConvGeometry, w: Binding, epi: EpilogueBindings): void {
  const { depthwiseTiling: tiling, workgroup, depthwiseChannelWorkgroup } = gpu.profile;
  const runs = Math.ceil(g.OW / RUN);
  const rows = tiling === 'channel' ? rowsPerInvocation(g.OH, g.kernel[0], g.stride[0]) : 1;
  const rowBlocks = Math.ceil(g.OH / rows);
  const perChannel = tiling === 'channel' ? g.N * rowBlocks * runs : g.N * g.OH * runs;
  const [KH, KW] = g.kernel;
  const k = kernel(
    tiling,
    KH,
    KW,
    g.stride[0],
    g.stride[1],
    g.padding[0],
    g.padding[1],
    ...epi.flags,
    tiling === 'channel' ? depthwiseChannelWorkgroup : workgroup,
    rows,
  );
  const groups = tiling === 'channel' ? Math.min(g.C, gpu.maxGroups) : gpu.groupsFor(perChannel * g.C, workgroup);
  gpu.run(k, [g.x.binding, w, g.y.binding, ...epi.bindings], [groups], {
    H: g.H,
    W: g.W,
    OH: g.OH,
    OW: g.OW,
    C: g.C,
    runs,
    ...(tiling === 'channel' ? { rowBlocks } : {}),
    total: tiling === 'channel' ? perChannel : perChannel * g.C,
    ...CONV_X.values(g.x),
    ...CONV_Y.values(g.y),
    ...epi.offsets,
  });
}
