// Register-blocked matrix multiply without workgroup memory, for software adapters (llvmpipe,
// SwiftShader), where workgroup memory is ordinary memory behind extra copies and every barrier is a
// context switch, while reads straight from the operands hit the CPU's caches. Same contract as
// matmul.ts: C[z] = epilogue(sum over b in batches(z) of A[b] . B[b]), strided operands.
//
// Tiling: one invocation per RM x RN block of C, the blocks of every split in one flat range (so
// that products with few columns still fill whole workgroups), walked grid-stride. The K loop is vectorised along whichever dimension has unit stride:
//   'n': B is unit-stride along N (forward and input-gradient convolutions): per k, RN/4 vec4 of B,
//        RM scalars of A, RM x RN/4 vec4 FMAs;
//   'k': A and B are unit-stride along K (weight gradients): per 4 k, RM vec4 of A and RN vec4 of B,
//        RM x RN dot products;
//   'folded': short rows of B that share A (a 7x7 or smaller feature map times a weight matrix): the
//        batch is folded into the columns, so blocks of columns span images; per k, RN gathered
//        scalars of B, RM scalars of A;
//   'scalar': anything else.

import type { Gpu, Kernel } from '../gpu/context.js';
import { epilogueCode } from './conv_common.js';
import { type MatmulArgs, matmulParams, PARAMS } from './matmul_common.js';

type Mode = 'n' | 'k' | 'folded' | 'scalar';

const BLOCK: Record<Mode, [number, number]> = { n: [4, 8], k: [4, 4], folded: [4, 8], scalar: [4, 8] };

/** Whether C can be written as aligned vec4 runs along N (the epilogue then acting per row). */
function vec4Stores(mode: Mode, args: MatmulArgs): boolean {
  const { c } = args;
  return mode === 'n' && !args.epilogueOnColumns && c.col === 1 && [c.off, c.row, c.batch, args.N].every((x) => x % 4 === 0);
}

function kernel(mode: Mode, args: MatmulArgs, workgroup: number): Kernel {
  const vecC = vec4Stores(mode, args);
  const [RM, RN] = BLOCK[mode];
  const epi = args.epilogue;
  const channel = args.epilogueOnColumns ? 'n' : 'm';
  const vecB = mode === 'n' || mode === 'k';
  const Q = mode === 'n' ? RN / 4 : RN;
  const accType = mode === 'n' ? 'vec4<f32>' : 'f32';
  const accCount = mode === 'n' ? RM * Q : RM * RN;
  const body =
    mode === 'n'
      ? /* wgsl */ `
    for (var k = 0u; k < P.K; k++) {
      var b: array<vec4<f32>, ${Q}>;
      for (var j = 0u; j < ${Q}u; j++) { b[j] = B[(bBase + k * P.bRow + min(n0 + 4u * j, P.N - 4u)) / 4u]; }
      for (var i = 0u; i < ${RM}u; i++) {
        let a = vec4<f32>(A[aBase + min(m0 + i, P.M - 1u) * P.aRow + k * P.aCol]);
        for (var j = 0u; j < ${Q}u; j++) { acc[i * ${Q}u + j] = fma(a, b[j], acc[i * ${Q}u + j]); }
      }
    }`
      : mode === 'folded'
        ? /* wgsl */ `
    var bAt: array<u32, ${RN}>;
    for (var j = 0u; j < ${RN}u; j++) {
      let column = min(n0 + j, P.N - 1u);
      bAt[j] = P.bOff + (column / P.cols) * P.bBatch + (column % P.cols) * P.bCol;
    }
    for (var k = 0u; k < P.K; k++) {
      var b: array<f32, ${RN}>;
      for (var j = 0u; j < ${RN}u; j++) { b[j] = B[bAt[j] + k * P.bRow]; }
      for (var i = 0u; i < ${RM}u; i++) {
        let a = A[P.aOff + min(m0 + i, P.M - 1u) * P.aRow + k * P.aCol];
        for (var j = 0u; j < ${RN}u; j++) { acc[i * ${RN}u + j] = fma(a, b[j], acc[i * ${RN}u + j]); }
      }
    }`
        : mode === 'k'
          ? /* wgsl */ `
    for (var k = 0u; k < P.K; k += 4u) {
      var a: array<vec4<f32>, ${RM}>;
      var b: array<vec4<f32>, ${RN}>;
      for (var i = 0u; i < ${RM}u; i++) { a[i] = A[(aBase + min(m0 + i, P.M - 1u) * P.aRow + k) / 4u]; }
      for (var j = 0u; j < ${RN}u; j++) { b[j] = B[(bBase + min(n0 + j, P.N - 1u) * P.bCol + k) / 4u]; }
      for (var i = 0u; i < ${RM}u; i++) {
        for (var j = 0u; j < ${RN}u; j++) { acc[i * ${RN}u + j] += dot(a[i], b[j]); }
      }
    }`
          : /* wgsl */ `
    for (var k = 0u; k < P.K; k++) {
      var b: array<f32, ${RN}>;
      for (var j = 0u; j < ${RN}u; j++) { b[j] = B[bBase + k * P.bRow + min(n0 + j, P.N - 1u) * P.bCol]; }
      for (var i = 0u; i < ${RM}u; i++) {
        let a = A[aBase + min(m0 + i, P.M - 1u) * P.aRow + k * P.aCol];
        for (var j = 0u; j < ${RN}u; j++) { acc[i * ${RN}u + j] = fma(a, b[j], acc[i * ${RN}u + j]); }
      }
    }`;
  const store = vecC
    ? /* wgsl */ `
    for (var j = 0u; j < ${Q}u; j++) {
      let n = n0 + 4u * j;
      if (n < P.N) {
        var y = acc[i * ${Q}u + j];
        ${epilogueCode(epi, 'y', channel, 'vec4<f32>')}
        C[(cBase + m * P.cRow + n) / 4u] = y;
      }
    }`
    : mode === 'folded'
      ? /* wgsl */ `
    for (var j = 0u; j < ${RN}u; j++) {
      let n = n0 + j;
      if (n < P.N) {
        var y = acc[i * ${RN}u + j];
        ${epilogueCode(epi, 'y', channel)}
        C[P.cOff + (n / P.cols) * P.cBatch + m * P.cRow + (n % P.cols) * P.cCol] = y;
      }
    }`
      : mode === 'n'
        ? /* wgsl */ `
    for (var j = 0u; j < ${Q}u; j++) {
      let v = acc[i * ${Q}u + j];
      for (var e = 0u; e < 4u; e++) {
        let n = n0 + 4u * j + e;
        if (n < P.N) {
          var y = v[e];
          ${epilogueCode(epi, 'y', channel)}
          C[cBase + m * P.cRow + n * P.cCol] = y;
        }
      }
    }`
        : /* wgsl */ `
    for (var j = 0u; j < ${RN}u; j++) {
      let n = n0 + j;
      if (n < P.N) {
        var y = acc[i * ${RN}u + j];
        ${epilogueCode(epi, 'y', channel)}
        C[cBase + m * P.cRow + n * P.cCol] = y;
      }
    }`;
  return {
    name: `matmul_direct_${mode}_${RM}x${RN}${vecC ? '_vec4out' : ''}`,
    params: [...PARAMS, 'cols', 'zCount'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> A: array<${mode === 'k' ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> B: array<${vecB ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(3) var<storage, read_write> C: array<${vecC ? 'vec4<f32>' : 'f32'}>;
${epi.declarations(4)}

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let nBlocks = (P.N + ${RN - 1}u) / ${RN}u;
  let mBlocks = (P.M + ${RM - 1}u) / ${RM}u;
  for (var block = gid.x; block < nBlocks * mBlocks * P.zCount; block += groups.x * ${workgroup}u) {
    let n0 = (block % nBlocks) * ${RN}u;
    let m0 = ((block / nBlocks) % mBlocks) * ${RM}u;
    let z = block / (nBlocks * mBlocks);
    // An explicit zero: SwiftShader keeps a loop-local var's value from the previous iteration.
    var acc = array<${accType}, ${accCount}>();
  ${
    mode === 'folded'
      ? body
      : `  let first = z * P.perSplit;
    let last = min(first + P.perSplit, P.batches);
    for (var batch = first; batch < last; batch++) {
      let aBase = P.aOff + batch * P.aBatch;
      let bBase = P.bOff + batch * P.bBatch;
${body}
    }`
  }
    let cBase = P.cOff + z * P.cBatch;
    for (var i = 0u; i < ${RM}u; i++) {
      let m = m0 + i;
      if (m >= P.M) { break; }
${store}
    }
  }
}
`,
  };
}

/** Which vectorisation the operands allow (every vec4 access 16-byte aligned, extents whole quads). */
export function directMode(args: MatmulArgs, narrowColumns: number): Mode {
  const four = (x: number) => x % 4 === 0;
  const { a, b } = args;
  if (b.col === 1 && four(args.N) && four(b.off) && four(b.row) && four(b.batch)) return 'n';
  if (a.col === 1 && b.row === 1 && four(args.K) && four(a.off) && four(a.row) && four(a.batch) && four(b.off) && four(b.col) && four(b.batch)) return 'k';
  // Folding needs one shared A and one output per batch (no sum over batches).
  if (a.batch === 0 && args.splits === args.batches && args.N < narrowColumns) return 'folded';
  return 'scalar';
}

export function matmulDirect(gpu: Gpu, args: MatmulArgs): void {
  const mode = directMode(args, gpu.profile.narrowColumns);
  const [RM, RN] = BLOCK[mode];
  const workgroup = gpu.profile.workgroup;
  const bindings = [args.a.binding, args.b.binding, args.c.binding, ...args.epilogue.bindings];
  const folded = mode === 'folded';
  const columns = folded ? args.N * args.batches : args.N;
  const zCount = folded ? 1 : args.splits;
  const blocks = Math.ceil(columns / RN) * Math.ceil(args.M / RM) * zCount;
  gpu.run(kernel(mode, args, workgroup), bindings, [gpu.groupsFor(blocks, workgroup)], {
    ...matmulParams(args),
    N: columns,
    cols: args.N,
    zCount,
  });
}
