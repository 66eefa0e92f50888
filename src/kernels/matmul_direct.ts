// Register-blocked matrix multiply without workgroup memory, for software adapters (llvmpipe,
// SwiftShader), where workgroup memory is ordinary memory behind extra copies and every barrier is a
// context switch, while reads straight from the operands hit the CPU's caches. Same contract as
// matmul.ts: C[z] = epilogue(sum over b in batches(z) of A[b] . B[b]), operands as views.
//
// Tiling: one invocation per RM x RN block of C (the profile's block by adapter and mode,
// DeviceProfile.directBlocks; 4x8 in mode 'folded'), the blocks of every split in one flat range
// (so that products with few columns still fill whole workgroups), walked grid-stride. The K loop
// is vectorised along whichever dimension has unit stride:
//   'n': B is unit-stride along N (forward and input-gradient convolutions): per k, RN/4 vec4 of B,
//        RM scalars of A, RM x RN/4 vec4 multiply-adds;
//   'nk': as 'n', A also unit-stride along K (the weights of a forward convolution, K a multiple of
//        4): per 4 k, RM vec4 of A (one per row), then per k RN/4 vec4 of B; on SwiftShader a vec4
//        load costs about what a scalar one does, and this variant is ~4x 'n' there;
//   'k': A and B are unit-stride along K (weight gradients): per 4 k, RM vec4 of A and RN vec4 of B,
//        RM x RN dot products;
//   'folded': short rows of B that share A (a 7x7 or smaller feature map times a weight matrix): the
//        batch is folded into the columns, so blocks of columns span images; per k, RN gathered
//        scalars of B, RM scalars of A;
//   'scalar': anything else.
// The block is unrolled by the generator into named registers (acc0_0, a0, b0, ...), with the row and
// column offsets computed once per block and A and B walked by running offsets: SwiftShader keeps a
// private array indexed in a loop in memory (about 5x slower there; llvmpipe unrolls either).
// Products are `acc += a * b`, not fma(), which costs more on SwiftShader (~1.3x in the 1x1
// convolutions); llvmpipe runs both alike. See DEVELOPERS.md, "Speed on software adapters".

import { type Gpu, memoKernel } from '../gpu/context.js';
import type { DirectBlocks } from '../gpu/profile.js';
import { epilogueCode, epilogueDeclarations } from './conv_common.js';
import { A, B, C, type MatmulArgs, matmulParams, PARAMS, quadsAlongColumns, transposed } from './matmul_common.js';

type Mode = 'n' | 'nk' | 'k' | 'folded' | 'scalar';

/** The register block of each mode: the profile's, fixed in mode 'folded'. */
function block(mode: Mode, blocks: DirectBlocks): [number, number] {
  return mode === 'folded' ? [4, 8] : blocks[mode];
}

/** The modes whose B loads and accumulators are vec4 along N. */
const alongN = (mode: Mode) => mode === 'n' || mode === 'nk';

/** Whether C can be written as aligned vec4 runs along N (the epilogue then acting per row). */
function vec4Stores(mode: Mode, args: MatmulArgs): boolean {
  return alongN(mode) && !args.epilogueOnColumns && quadsAlongColumns(args.c, args.N);
}

/** `count` copies of `line(i)`, one per line: the register blocks are unrolled into named variables. */
function unroll(count: number, line: (i: number) => string, separator = '\n      '): string {
  return Array.from({ length: count }, (_, i) => line(i)).join(separator);
}

/** Both loops of a block over i < RM and j < `cols`. */
function unroll2(rows: number, cols: number, line: (i: number, j: number) => string, separator = '\n      '): string {
  return unroll(rows, (i) => unroll(cols, (j) => line(i, j), separator), separator);
}

function build(mode: Mode, RM: number, RN: number, vecC: boolean, scale: boolean, shift: boolean, relu: boolean, onColumns: boolean, workgroup: number) {
  const epi = { scale, shift, relu };
  const vecB = mode !== 'folded' && mode !== 'scalar';
  // Columns held per row of the block: RN/4 vec4 accumulators along N in modes 'n' and 'nk', RN scalars otherwise.
  const Q = alongN(mode) ? RN / 4 : RN;
  const accType = alongN(mode) ? 'vec4<f32>' : 'f32';
  const vecA = mode === 'k' || mode === 'nk';
  // Row i's offset in A and column j's in B (clamped into the matrix: the edge blocks recompute the
  // last row / column), in elements of A and B (vec4s along K in mode 'k', along N for B in mode 'n').
  const quads = vecA ? ' / 4u' : '';
  const rowOffsets = unroll(RM, (i) => `let ar${i} = aAt(0u, min(m0 + ${i}u, P.M - 1u), 0u)${quads};`, '\n    ');
  const colOffsets = alongN(mode)
    ? unroll(Q, (j) => `let bc${j} = bAt(0u, 0u, min(n0 + ${4 * j}u, P.N - 4u)) / 4u;`, '\n    ')
    : mode === 'folded'
      ? unroll(RN, (j) => `let col${j} = min(n0 + ${j}u, P.N - 1u);\n    let bc${j} = bAt(bBase(col${j} / P.cols), 0u, col${j} % P.cols);`, '\n    ')
      : unroll(RN, (j) => `let bc${j} = bAt(0u, 0u, min(n0 + ${j}u, P.N - 1u))${quads};`, '\n    ');
  // Where the K loop starts in A and B (per batch), how far each step moves, and how many steps.
  const [aStart, bStart] =
    mode === 'folded' ? ['aBase(0u)', '0u'] : vecA ? ['aFrom / 4u', 'bFrom / 4u'] : mode === 'n' ? ['aFrom', 'bFrom / 4u'] : ['aFrom', 'bFrom'];
  const bRowStep = mode === 'n' || mode === 'nk' ? 'bAt(0u, 1u, 0u) / 4u' : 'bAt(0u, 1u, 0u)';
  const [aStep, bStep, steps] = vecA ? ['1u', mode === 'nk' ? bRowStep : '1u', 'P.K / 4u'] : ['aAt(0u, 0u, 1u)', bRowStep, 'P.K'];
  const loadA = unroll(RM, (i) => (mode === 'n' ? `let a${i} = vec4<f32>(A[ap + ar${i}]);` : `let a${i} = A[ap + ar${i}];`));
  const loadB = unroll(Q, (j) => `let b${j} = B[bp + bc${j}];`);
  const products = mode === 'k' ? unroll2(RM, RN, (i, j) => `acc${i}_${j} += dot(a${i}, b${j});`) : unroll2(RM, Q, (i, j) => `acc${i}_${j} += a${i} * b${j};`);
  // Mode 'nk' takes 4 k a step: one vec4 of A per row, then per k its component times RN/4 vec4 of B.
  const quadStep = ['x', 'y', 'z', 'w'].map(
    (c) => `{
        ${loadB}
        ${unroll2(RM, Q, (i, j) => `acc${i}_${j} += vec4<f32>(a${i}.${c}) * b${j};`)}
        bp += bStep;
      }`,
  );
  const loop = /* wgsl */ `
    var ap = ${aStart};
    var bp = ${bStart};
    for (var k = 0u; k < steps; k++) {
      ${mode === 'nk' ? `${unroll(RM, (i) => `let a${i} = A[ap + ar${i}];`)}\n      ${quadStep.join('\n      ')}` : `${loadA}\n      ${loadB}\n      ${products}\n      bp += bStep;`}
      ap += aStep;
    }`;
  // The stores of block element (i, j): column(s) n, the epilogue's channel m (or n with onColumns).
  const channel = (i: number, j: number, e = 0) => (onColumns ? `n0 + ${Q === RN ? j : 4 * j + e}u` : `m0 + ${i}u`);
  const store = (i: number, j: number): string => {
    if (vecC)
      return `if (n0 + ${4 * j}u < P.N) {
        var y = acc${i}_${j};
        ${epilogueCode(epi, 'y', channel(i, j), 'vec4<f32>')}
        C[cAt(cFrom, m0 + ${i}u, n0 + ${4 * j}u) / 4u] = y;
      }`;
    if (alongN(mode))
      return unroll(
        4,
        (e) => `if (n0 + ${4 * j + e}u < P.N) {
        var y = acc${i}_${j}[${e}];
        ${epilogueCode(epi, 'y', channel(i, j, e))}
        C[cAt(cFrom, m0 + ${i}u, n0 + ${4 * j + e}u)] = y;
      }`,
      );
    const address = mode === 'folded' ? `cAt(cBase(n / P.cols), m0 + ${i}u, n % P.cols)` : `cAt(cFrom, m0 + ${i}u, n)`;
    return `if (n0 + ${j}u < P.N) {
        let n = n0 + ${j}u;
        var y = acc${i}_${j};
        ${epilogueCode(epi, 'y', channel(i, j))}
        C[${address}] = y;
      }`;
  };
  const stores = unroll(RM, (i) => `if (m0 + ${i}u < P.M) {\n      ${unroll(Q, (j) => store(i, j))}\n    }`, '\n    ');
  return {
    params: [...PARAMS, 'cols', 'zCount'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read> A: array<${vecA ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(2) var<storage, read> B: array<${vecB ? 'vec4<f32>' : 'f32'}>;
@group(0) @binding(3) var<storage, read_write> C: array<${vecC ? 'vec4<f32>' : 'f32'}>;
${epilogueDeclarations(epi, 4)}
${A.wgsl}${B.wgsl}${C.wgsl}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  // Uniforms read once: SwiftShader's compiler (Subzero) does not hoist them out of the loops.
  let aStep = ${aStep};
  let bStep = ${bStep};
  let steps = ${steps};
  let nBlocks = (P.N + ${RN - 1}u) / ${RN}u;
  let mBlocks = (P.M + ${RM - 1}u) / ${RM}u;
  for (var block = gid.x; block < nBlocks * mBlocks * P.zCount; block += groups.x * ${workgroup}u) {
    let n0 = (block % nBlocks) * ${RN}u;
    let m0 = ((block / nBlocks) % mBlocks) * ${RM}u;
    let z = block / (nBlocks * mBlocks);
    ${rowOffsets}
    ${colOffsets}
    // Explicit zeros: SwiftShader keeps a loop-local var's value from the previous iteration.
    ${unroll2(RM, Q, (i, j) => `var acc${i}_${j} = ${accType}(0.0);`, '\n    ')}
  ${
    mode === 'folded'
      ? loop
      : `  let first = z * P.perSplit;
    let last = min(first + P.perSplit, P.batches);
    for (var batch = first; batch < last; batch++) {
      let aFrom = aBase(batch);
      let bFrom = bBase(batch);
${loop}
    }`
  }
    let cFrom = cBase(z);
    ${stores}
  }
}
`,
  };
}

/** One memoised kernel per mode, keyed by the block, vec4 stores, the epilogue's flags, onColumns and the workgroup. */
const byMode = (mode: Mode) =>
  memoKernel(
    `matmul_direct_${mode}`,
    (RM: number, RN: number, vecC: boolean, scale: boolean, shift: boolean, relu: boolean, onColumns: boolean, workgroup: number) =>
      build(mode, RM, RN, vecC, scale, shift, relu, onColumns, workgroup),
  );
const KERNELS: Record<Mode, ReturnType<typeof byMode>> = {
  n: byMode('n'),
  nk: byMode('nk'),
  k: byMode('k'),
  folded: byMode('folded'),
  scalar: byMode('scalar'),
};

/** Which vectorisation the operands allow (every vec4 access 16-byte aligned, extents whole quads). */
export function directMode(args: MatmulArgs, narrowColumns: number): Mode {
  const { a, b } = args;
  if (quadsAlongColumns(b, args.N)) return quadsAlongColumns(a, args.K) ? 'nk' : 'n';
  // B read along K: its transpose read along its columns.
  if (quadsAlongColumns(a, args.K) && quadsAlongColumns(transposed(b), args.K)) return 'k';
  // Folding needs one shared A and one output per batch (no sum over batches).
  if (a.strides[0] === 0 && args.splits === args.batches && args.N < narrowColumns) return 'folded';
  return 'scalar';
}

export function matmulDirect(gpu: Gpu, args: MatmulArgs): void {
  const mode = directMode(args, gpu.profile.narrowColumns);
  const [RM, RN] = block(mode, gpu.profile.directBlocks);
  const workgroup = gpu.profile.workgroup;
  const epi = args.epilogue;
  const bindings = [args.a.binding, args.b.binding, args.c.binding, ...epi.bindings];
  const folded = mode === 'folded';
  const columns = folded ? args.N * args.batches : args.N;
  const zCount = folded ? 1 : args.splits;
  const blocks = Math.ceil(columns / RN) * Math.ceil(args.M / RM) * zCount;
  const kernel = KERNELS[mode](
    RM,
    RN,
    vec4Stores(mode, args),
    epi.scale !== undefined,
    epi.shift !== undefined,
    epi.relu,
    Boolean(args.epilogueOnColumns),
    workgroup,
  );
  gpu.run(kernel, bindings, [gpu.groupsFor(blocks, workgroup)], { ...matmulParams(args), N: columns, cols: args.N, zCount });
}
