// Tiled matrix multiply: C[z] = epilogue( sum over b in batches(z) of A[b] . B[b] ).
// Serves 1x1 convolutions (forward, input gradient, and weight gradient with its N*H*W reduction
// split over z) and linear layers. Every operand is a view (matmul_common.ts): element (r, c) of
// batch b sits at offset + b*batch + r*row + c*col, so transposes and channel slices need no copies.
//
// Tiling: a workgroup computes a TM x TN tile of C with (TN/RN) x (TM/RM) invocations, each holding
// an RM x RN block of accumulators in registers (rows ty + i*(TM/RM), columns tx + j*(TN/RN)).
// K advances TK at a time through workgroup-shared tiles of A (TK x TM) and B (TK x TN), loaded
// cooperatively along each operand's unit-stride dimension; with `vec4` the unit-stride loads are
// vec4 loads (all offsets and strides multiples of 4, K and the loaded extent too).
// Epilogue, per output row: optional scale and shift (folded batch norm, bias), optional ReLU.
// Software adapters get matmul_direct.ts instead (no workgroup memory), unless a tiling is forced.

import { type Gpu, memoKernel } from '../gpu/context.js';
import type { DeviceProfile, MatmulTiling } from '../gpu/profile.js';
import { epilogueCode, epilogueDeclarations } from './conv_common.js';
import { A, B, C, type MatmulArgs, matmulParams, PARAMS, quadsAlongColumns, transposed } from './matmul_common.js';
import { matmulDirect } from './matmul_direct.js';

export type { MatmulArgs } from './matmul_common.js';
export { matrix, quadsAlongColumns, transposed } from './matmul_common.js';
export type { MatmulTiling } from '../gpu/profile.js';

/** The profile's tile for a product: its long-sided tile where both sides are long, narrower ones for short sides. */
function chooseTiling(tiles: DeviceProfile['tiles'], M: number, N: number): MatmulTiling {
  if (M <= 32 && N > 32) return tiles.shortM;
  if (N <= 32 && M > 32) return tiles.shortN;
  if (M <= 32 && N <= 32) return tiles.short;
  return tiles.long;
}

const kernel = memoKernel(
  'matmul',
  (
    TM: number,
    TN: number,
    TK: number,
    RM: number,
    RN: number,
    aUnitK: boolean,
    bUnitN: boolean,
    vec4: boolean,
    scale: boolean,
    shift: boolean,
    relu: boolean,
    onColumns: boolean,
  ) => {
    const epi = { scale, shift, relu };
    const WX = TN / RN;
    const WY = TM / RM;
    const threads = WX * WY;
    // A tile loads: element i of the TK x TM tile; walk k fastest when A has unit stride along k.
    const loadA = tileLoad('A', 'As', (r, k) => `aAt(aFrom, ${r}, ${k})`, TM, TK, aUnitK, 'm0', 'P.M', vec4, threads);
    const loadB = tileLoad('B', 'Bs', (r, k) => `bAt(bFrom, ${k}, ${r})`, TN, TK, !bUnitN, 'n0', 'P.N', vec4, threads);
    const fmas: string[] = [];
    for (let i = 0; i < RM; i++) for (let j = 0; j < RN; j++) fmas.push(`acc[${i * RN + j}] = fma(a[${i}], b[${j}], acc[${i * RN + j}]);`);
    return {
      params: PARAMS,
      wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> A: array<${vec4 ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> B: array<${vec4 ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
${epilogueDeclarations(epi, 4)}
${A.wgsl}${B.wgsl}${C.wgsl}
var<workgroup> As: array<f32, ${TK * TM}>;
var<workgroup> Bs: array<f32, ${TK * TN}>;

@compute @workgroup_size(${WX}, ${WY})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32, @builtin(num_workgroups) groups: vec3u) {
  let m0 = wg.y * ${TM}u;
  let z = wg.z;
  // Column tiles grid-stride (uniform per workgroup, so the barriers stay in uniform control flow).
  for (var n0 = wg.x * ${TN}u; n0 < P.N; n0 += groups.x * ${TN}u) {
    // An explicit zero: SwiftShader keeps a loop-local var's value from the previous iteration.
    var acc = array<f32, ${RM * RN}>();
    var a: array<f32, ${RM}>;
    var b: array<f32, ${RN}>;
    let first = z * P.perSplit;
    let last = min(first + P.perSplit, P.batches);
    for (var batch = first; batch < last; batch++) {
      let aFrom = aBase(batch);
      let bFrom = bBase(batch);
      for (var k0 = 0u; k0 < P.K; k0 += ${TK}u) {
${loadA}
${loadB}
        workgroupBarrier();
        for (var kk = 0u; kk < ${TK}u; kk++) {
${range(RM)
  .map((i) => `        a[${i}] = As[kk * ${TM}u + lid.y + ${i * WY}u];`)
  .join('\n')}
${range(RN)
  .map((j) => `        b[${j}] = Bs[kk * ${TN}u + lid.x + ${j * WX}u];`)
  .join('\n')}
          ${fmas.join('\n        ')}
        }
        workgroupBarrier();
      }
    }
    let cFrom = cBase(z);
    for (var i = 0u; i < ${RM}u; i++) {
      let m = m0 + lid.y + i * ${WY}u;
      if (m >= P.M) { break; }
      for (var j = 0u; j < ${RN}u; j++) {
        let n = n0 + lid.x + j * ${WX}u;
        if (n < P.N) {
          var y = acc[i * ${RN}u + j];
          ${epilogueCode(epi, 'y', onColumns ? 'n' : 'm')}
          C[cAt(cFrom, m, n)] = y;
        }
      }
    }
  }
}
`,
    };
  },
);

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * WGSL that fills the shared tile `tile` ([TK][extent], k-major) from `src`; `at(r, k)` is the
 * address of element r of the tile's extent (rows of A, columns of B) at step k. When `unitK`, K is
 * the unit-stride dimension and the loop walks it fastest; otherwise the extent is.
 */
function tileLoad(
  src: string,
  tile: string,
  at: (r: string, k: string) => string,
  extent: number,
  TK: number,
  unitK: boolean,
  origin: string,
  limit: string,
  vec4: boolean,
  threads: number,
): string {
  if (!vec4) {
    const total = extent * TK;
    const fast = unitK ? TK : extent;
    return `      for (var i = li; i < ${total}u; i += ${threads}u) {
        let kk = ${unitK ? `i % ${fast}u` : `i / ${fast}u`};
        let e = ${unitK ? `i / ${fast}u` : `i % ${fast}u`};
        let k = k0 + kk;
        let r = ${origin} + e;
        var value = 0.0;
        if (k < P.K && r < ${limit}) { value = ${src}[${at('r', 'k')}]; }
        ${tile}[kk * ${extent}u + e] = value;
      }`;
  }
  // vec4 loads: 4 consecutive elements along the unit-stride dimension.
  const total = (extent * TK) / 4;
  if (unitK) {
    return `      for (var i = li; i < ${total}u; i += ${threads}u) {
        let kk = (i % ${TK / 4}u) * 4u;
        let e = i / ${TK / 4}u;
        let k = k0 + kk;
        let r = ${origin} + e;
        var value = vec4<f32>(0.0);
        if (k < P.K && r < ${limit}) { value = ${src}[${at('r', 'k')} / 4u]; }
        ${tile}[kk * ${extent}u + e] = value.x;
        ${tile}[(kk + 1u) * ${extent}u + e] = value.y;
        ${tile}[(kk + 2u) * ${extent}u + e] = value.z;
        ${tile}[(kk + 3u) * ${extent}u + e] = value.w;
      }`;
  }
  return `      for (var i = li; i < ${total}u; i += ${threads}u) {
        let kk = i / ${extent / 4}u;
        let e = (i % ${extent / 4}u) * 4u;
        let k = k0 + kk;
        let r = ${origin} + e;
        var value = vec4<f32>(0.0);
        if (k < P.K && r < ${limit}) { value = ${src}[${at('r', 'k')} / 4u]; }
        let t = kk * ${extent}u + e;
        ${tile}[t] = value.x;
        ${tile}[t + 1u] = value.y;
        ${tile}[t + 2u] = value.z;
        ${tile}[t + 3u] = value.w;
      }`;
}

/** Whether every load of this product can be a vec4 along the operands' unit-stride sides (and the tile's extents whole quads). */
function canVec4(args: MatmulArgs, aUnitK: boolean, bUnitN: boolean, t: MatmulTiling): boolean {
  if (t.TK % 4 !== 0 || t.TM % 4 !== 0 || t.TN % 4 !== 0) return false;
  const aOk = aUnitK ? quadsAlongColumns(args.a, args.K) : quadsAlongColumns(transposed(args.a), args.M);
  const bOk = bUnitN ? quadsAlongColumns(args.b, args.N) : quadsAlongColumns(transposed(args.b), args.K);
  return aOk && bOk;
}

/** How many partial products a sum over `batches` should be split into to keep the device busy. */
export function splitCount(gpu: Gpu, M: number, N: number, batches: number): number {
  const [bm, bn] = gpu.profile.splitBlock;
  const blocks = Math.ceil(M / bm) * Math.ceil(N / bn);
  return Math.max(1, Math.min(batches, Math.ceil(gpu.profile.splitTarget / blocks)));
}

export function matmul(gpu: Gpu, args: MatmulArgs): void {
  if (gpu.profile.matmul === 'direct' && !args.tiling) {
    matmulDirect(gpu, args);
    return;
  }
  const tiling = args.tiling ?? chooseTiling(gpu.profile.tiles, args.M, args.N);
  const { TM, TN, TK, RM, RN } = tiling;
  const aUnitK = args.a.strides[2] === 1;
  const bUnitN = args.b.strides[2] === 1;
  const epi = args.epilogue;
  const bindings = [args.a.binding, args.b.binding, args.c.binding, ...epi.bindings];
  gpu.run(
    kernel(
      TM,
      TN,
      TK,
      RM,
      RN,
      aUnitK,
      bUnitN,
      canVec4(args, aUnitK, bUnitN, tiling),
      epi.scale !== undefined,
      epi.shift !== undefined,
      epi.relu,
      Boolean(args.epilogueOnColumns),
    ),
    bindings,
    [gpu.groupsFor(args.N, TN), Math.ceil(args.M / TM), args.splits],
    matmulParams(args),
  );
}
