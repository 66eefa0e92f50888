// Tiled matrix multiply: C[z] = epilogue( sum over b in batches(z) of A[b] . B[b] ).
// Serves 1x1 convolutions (forward, input gradient, and weight gradient with its N*H*W reduction
// split over z) and linear layers. Every operand is a strided view: element (r, c) of batch b sits at
// off + b*batch + r*row + c*col, so transposes and channel slices need no copies.
//
// Tiling: a workgroup computes a TM x TN tile of C with (TN/RN) x (TM/RM) invocations, each holding
// an RM x RN block of accumulators in registers (rows ty + i*(TM/RM), columns tx + j*(TN/RN)).
// K advances TK at a time through workgroup-shared tiles of A (TK x TM) and B (TK x TN), loaded
// cooperatively along each operand's unit-stride dimension; with `vec4` the unit-stride loads are
// vec4 loads (all offsets and strides multiples of 4, K and the loaded extent too).
// Epilogue, per output row: optional scale and shift (folded batch norm, bias), optional ReLU.
// Software adapters get matmul_direct.ts instead (no workgroup memory), unless a tiling is forced.

import type { Gpu, Kernel } from '../gpu/context.js';
import type { DeviceProfile, MatmulTiling } from '../gpu/profile.js';
import { type EpilogueBindings, epilogueCode } from './conv_common.js';
import { type MatmulArgs, matmulParams, PARAMS } from './matmul_common.js';
import { matmulDirect } from './matmul_direct.js';

export type { MatmulArgs, Operand } from './matmul_common.js';
export { quadsAlongK, quadsAlongN } from './matmul_common.js';
export type { MatmulTiling } from '../gpu/profile.js';

/** The profile's tile for a product: its long-sided tile where both sides are long, narrower ones for short sides. */
function chooseTiling(tiles: DeviceProfile['tiles'], M: number, N: number): MatmulTiling {
  if (M <= 32 && N > 32) return tiles.shortM;
  if (N <= 32 && M > 32) return tiles.shortN;
  if (M <= 32 && N <= 32) return tiles.short;
  return tiles.long;
}

interface Variant {
  tiling: MatmulTiling;
  /** Which dimension of A / B has unit stride (the one loads walk along). */
  aUnitK: boolean;
  bUnitN: boolean;
  vec4: boolean;
}

function kernel(v: Variant, epi: EpilogueBindings, onColumns: boolean): Kernel {
  const { TM, TN, TK, RM, RN } = v.tiling;
  const WX = TN / RN;
  const WY = TM / RM;
  const threads = WX * WY;
  // A tile loads: element i of the TK x TM tile; walk k fastest when A has unit stride along k.
  const loadA = tileLoad('A', 'As', 'aBase', 'P.aRow', 'P.aCol', TM, TK, v.aUnitK, 'm0', 'P.M', v.vec4, threads);
  const loadB = tileLoad('B', 'Bs', 'bBase', 'P.bCol', 'P.bRow', TN, TK, !v.bUnitN, 'n0', 'P.N', v.vec4, threads);
  const fmas: string[] = [];
  for (let i = 0; i < RM; i++) for (let j = 0; j < RN; j++) fmas.push(`acc[${i * RN + j}] = fma(a[${i}], b[${j}], acc[${i * RN + j}]);`);
  return {
    name: `matmul_${TM}x${TN}x${TK}_${RM}x${RN}${v.vec4 ? '_vec4' : ''}`,
    params: PARAMS,
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> A: array<${v.vec4 ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> B: array<${v.vec4 ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
${epi.declarations(4)}

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
      let aBase = P.aOff + batch * P.aBatch;
      let bBase = P.bOff + batch * P.bBatch;
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
    let cBase = P.cOff + z * P.cBatch;
    for (var i = 0u; i < ${RM}u; i++) {
      let m = m0 + lid.y + i * ${WY}u;
      if (m >= P.M) { break; }
      for (var j = 0u; j < ${RN}u; j++) {
        let n = n0 + lid.x + j * ${WX}u;
        if (n < P.N) {
          var y = acc[i * ${RN}u + j];
          ${epilogueCode(epi, 'y', onColumns ? 'n' : 'm')}
          C[cBase + m * P.cRow + n * P.cCol] = y;
        }
      }
    }
  }
}
`,
  };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * WGSL that fills the shared tile `tile` ([TK][extent], k-major) from `src`. `outerStride` steps along the
 * tile's extent (rows of A, columns of B), `kStride` along K. When `unitK`, K is the unit-stride
 * dimension and the loop walks it fastest; otherwise the extent is.
 */
function tileLoad(
  src: string,
  tile: string,
  base: string,
  outerStride: string,
  kStride: string,
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
        if (k < P.K && r < ${limit}) { value = ${src}[${base} + r * ${outerStride} + k * ${kStride}]; }
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
        if (k < P.K && r < ${limit}) { value = ${src}[(${base} + r * ${outerStride} + k) / 4u]; }
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
        if (k < P.K && r < ${limit}) { value = ${src}[(${base} + r + k * ${kStride}) / 4u]; }
        let t = kk * ${extent}u + e;
        ${tile}[t] = value.x;
        ${tile}[t + 1u] = value.y;
        ${tile}[t + 2u] = value.z;
        ${tile}[t + 3u] = value.w;
      }`;
}

/** Whether every unit-stride access of this product can use vec4 loads. */
function canVec4(args: MatmulArgs, aUnitK: boolean, bUnitN: boolean, t: MatmulTiling): boolean {
  const four = (x: number) => x % 4 === 0;
  if (t.TK % 4 !== 0 || t.TM % 4 !== 0 || t.TN % 4 !== 0) return false;
  const aOk = four(args.a.off) && four(args.a.batch) && (aUnitK ? four(args.a.row) && four(args.K) : four(args.a.col) && four(args.M));
  const bOk = four(args.b.off) && four(args.b.batch) && (bUnitN ? four(args.b.row) && four(args.N) : four(args.b.col) && four(args.K));
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
  const aUnitK = args.a.col === 1;
  const bUnitN = args.b.col === 1;
  const variant: Variant = {
    tiling,
    aUnitK,
    bUnitN,
    vec4: canVec4(args, aUnitK, bUnitN, tiling) && (aUnitK || args.a.row === 1) && (bUnitN || args.b.row === 1),
  };
  const bindings = [args.a.binding, args.b.binding, args.c.binding, ...args.epilogue.bindings];
  gpu.run(
    kernel(variant, args.epilogue, Boolean(args.epilogueOnColumns)),
    bindings,
    [gpu.groupsFor(args.N, tiling.TN), Math.ceil(args.M / tiling.TM), args.splits],
    matmulParams(args),
  );
}
