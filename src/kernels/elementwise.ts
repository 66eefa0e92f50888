// Fused element-wise kernel: out[i] = expr(in0[i], in1[i], ...) over a shape of up to four merged
// dimensions, every operand strided (stride 0 broadcasts, so per-channel scale and shift, bias, and
// scalars need no copies; an output view writes into a slice, a concat or a shuffled channel order).
//
// Tiling: x walks the innermost dimension, y the rows made of the outer ones (both grid-stride).
// The variant is compiled for the merged rank: each operand is a view with the outer dimensions
// (D0.., one row) and the innermost one (`view.ts`); its row base is computed once per row, the inner
// loop only adds i * stride. On software adapters each invocation takes about 16 steps of the inner
// loop (there an invocation costs more than the work of one element), or whole rows where rows are
// shorter than a workgroup. Where the innermost extent is a multiple of 4, a step computes 4
// neighbouring elements as a vec4: operands of unit stride (and 4-aligned offsets) are read and
// written as vec4, broadcast ones are read once and splatted, other strides are gathered. An input
// living in the output's buffer is read through the output binding.

import { f32bits, type Gpu, memoKernel } from '../gpu/context.js';
import { type Expr, paramCount, toWgsl } from './expr.js';
import { mergeDims } from './layout.js';
import { type View, type ViewAccessor, view } from './view.js';

/** How an operand is addressed along the innermost dimension. */
type Access = 'vec4' | 'broadcast' | 'scalar';

/** Ranks a variant is compiled for (merged dimensions). */
const MAX_RANK = 4;

const accessors = new Map<string, ViewAccessor>();

/** The view of operand `name` in a rank-`rank` variant: outer dimensions D0.., then the innermost unless broadcast along it. */
function operandView(name: string, rank: number, access: Access): ViewAccessor {
  const key = `${name} ${rank} ${access}`;
  let v = accessors.get(key);
  if (!v) {
    const dims = Array.from({ length: rank }, (_, d) => `D${d}`);
    const inner = access === 'broadcast' ? [] : dims.slice(-1);
    v = view(name, dims.slice(0, -1), inner, { unitStride: access === 'vec4' });
    accessors.set(key, v);
  }
  return v;
}

/** An operand's uniform values (a broadcast operand has no stride along the innermost dimension). */
function operandValues(name: string, rank: number, access: Access, x: View, strides: number[]) {
  return operandView(name, rank, access).values({ ...x, strides: access === 'broadcast' ? strides.slice(0, -1) : strides });
}

/**
 * The kernel for one variant. `value` is the expression's WGSL (inputs `x0`.., float parameters
 * `P.f0`..); `inputs` lists each input's access, `out:` in front where it is read through the output binding.
 */
const kernel = memoKernel(
  'elementwise',
  (value: string, rank: number, vec: number, out: Access, inputs: string, floats: number, workgroup: number, shortRows: boolean) => {
    const T = vec === 4 ? 'vec4<f32>' : 'f32';
    const operands = inputs === '' ? [] : inputs.split('|').map((s) => ({ aliased: s.startsWith('out:'), access: s.replace(/^out:/, '') as Access }));
    const outer = Array.from({ length: rank - 1 }, (_, d) => `N${d}`);
    const rowIndices = Array.from({ length: rank - 1 }, (_, d) => `i${d}`).join(', ');
    const OUT = operandView('out', rank, out);
    const params = [...outer, 'steps', ...OUT.params];
    const arrayOf = (a: Access) => (a === 'vec4' ? 'array<vec4<f32>>' : 'array<f32>');
    const bindings = [`@group(0) @binding(1) var<storage, read_write> out: ${arrayOf(out)};`];
    const accessorCode = [OUT.wgsl];
    const bases = [`    let baseOut = outBase(${rowIndices});`];
    const hoisted: string[] = [];
    const loads: string[] = [];
    let next = 2;
    operands.forEach(({ aliased, access }, i) => {
      const X = operandView(`in${i}`, rank, access);
      params.push(...X.params);
      accessorCode.push(X.wgsl);
      if (!aliased) bindings.push(`@group(0) @binding(${next++}) var<storage, read> in${i}: ${arrayOf(access)};`);
      const buffer = aliased ? 'out' : `in${i}`;
      const at = (index: string) => `${buffer}[in${i}At(base${i}, ${index})]`;
      bases.push(`    let base${i} = in${i}Base(${rowIndices});`);
      if (access === 'broadcast') hoisted.push(`    let x${i} = ${T}(${buffer}[in${i}At(base${i})]);`);
      else if (access === 'vec4') loads.push(`      let x${i} = ${buffer}[in${i}At(base${i}, i) / 4u];`);
      else if (vec === 1) loads.push(`      let x${i} = ${at('i')};`);
      else loads.push(`      let x${i} = vec4<f32>(${[0, 1, 2, 3].map((k) => at(`i + ${k}u`)).join(', ')});`);
    });
    for (let i = 0; i < floats; i++) params.push(`f${i}`);
    const store =
      out === 'vec4'
        ? '      out[outAt(baseOut, i) / 4u] = y;'
        : vec === 1
          ? '      out[outAt(baseOut, i)] = y;'
          : [0, 1, 2, 3].map((k) => `      out[outAt(baseOut, i + ${k}u)] = y[${k}];`).join('\n');
    // The walk along a row: grid-stride over the invocations, or the whole row in one (short rows,
    // several of them; a single flat row is always shared out).
    const flat = rank === 1;
    const walk = shortRows ? 'for (var e = 0u; e < P.steps; e++)' : `for (var e = gid.x; e < P.steps; e += groups.x * ${workgroup}u)`;
    const inner = `${bases.join('\n')}
${hoisted.join('\n')}
      ${walk} {
        let i = e * ${vec}u;
${loads.join('\n')}
        let y = ${value};
${store}
      }`;
    // A row's outer indices, innermost first: i_d = (row / (N_{d+1} * ...)) % N_d.
    const rowIndex = (d: number) => {
      const below = outer.slice(d + 1).map((n) => `P.${n}`);
      const quotient = below.length === 0 ? 'row' : `(row / ${below.length === 1 ? below[0] : `(${below.join(' * ')})`})`;
      return `    let i${d} = ${d === 0 ? quotient : `${quotient} % P.${outer[d]}`};`;
    };
    const rowLoop = (start: string, step: string) => `  for (var row = ${start}; row < ${outer.map((n) => `P.${n}`).join(' * ')}; row += ${step}) {
${outer
  .map((_, d) => rowIndex(d))
  .reverse()
  .join('\n')}
${inner}
  }`;
    const body = flat ? inner : shortRows ? rowLoop('gid.x', `groups.x * ${workgroup}u`) : rowLoop('gid.y', 'groups.y');
    return {
      params,
      wgsl: /* wgsl */ `
${bindings.join('\n')}

${accessorCode.join('')}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
${body}
}
`,
    };
  },
);

/** Whether an operand with these strides (innermost last) can be read or written as aligned vec4s. */
function vec4Aligned(offset: number, strides: number[]): boolean {
  return strides[strides.length - 1] === 1 && offset % 4 === 0 && strides.slice(0, -1).every((s) => s % 4 === 0);
}

/** Writes expr(inputs) into `out` over `shape`; `floats` fill the expression's `param` slots. */
export function elementwise(gpu: Gpu, expr: Expr, inputs: View[], out: View, shape: readonly number[], floats: readonly number[] = []): void {
  const { shape: dims, strides } = mergeDims(shape, [out.strides, ...inputs.map((x) => x.strides)]);
  const rank = dims.length;
  if (rank > MAX_RANK) throw new Error(`a strided operand of shape [${dims}] needs more than ${MAX_RANK} dimensions after merging; make it contiguous first`);
  const n = dims[rank - 1];
  const aliased = inputs.map((x) => x.binding.buffer === out.binding.buffer);
  const outAligned = vec4Aligned(out.offset, strides[0]);
  // vec4 needs a whole number of quads per row, and an aliased input read exactly like the output.
  const vec =
    n % 4 === 0 && inputs.every((x, i) => !aliased[i] || (x.offset === out.offset && strides[i + 1].every((s, d) => s === strides[0][d]) && outAligned))
      ? 4
      : 1;
  const outAccess: Access = vec === 4 && outAligned ? 'vec4' : 'scalar';
  const access = inputs.map((x, i): Access => {
    if (aliased[i]) return outAccess;
    const s = strides[i + 1];
    return s[rank - 1] === 0 ? 'broadcast' : vec === 4 && vec4Aligned(x.offset, s) ? 'vec4' : 'scalar';
  });
  const floatCount = paramCount(expr);
  const T = vec === 4 ? 'vec4<f32>' : 'f32';
  const value = toWgsl(
    expr,
    (i) => `x${i}`,
    (i) => `${T}(bitcast<f32>(P.f${i}))`,
    T,
  );
  const workgroup = gpu.profile.workgroup;
  const steps = n / vec;
  const shortRows = gpu.profile.packRows && steps < workgroup && rank > 1;
  const inputKinds = access.map((a, i) => (aliased[i] ? `out:${a}` : a)).join('|');
  const k = kernel(value, rank, vec, outAccess, inputKinds, floatCount, workgroup, shortRows);
  const values: Record<string, number> = { steps, ...operandValues('out', rank, outAccess, out, strides[0]) };
  for (let d = 0; d < rank - 1; d++) values[`N${d}`] = dims[d];
  inputs.forEach((x, i) => Object.assign(values, operandValues(`in${i}`, rank, access[i], x, strides[i + 1])));
  for (let i = 0; i < floatCount; i++) values[`f${i}`] = f32bits(floats[i]);
  const maxGroups = gpu.maxGroups;
  const bindings = [out.binding, ...inputs.filter((_, i) => !aliased[i]).map((x) => x.binding)];
  const perInvocation = gpu.profile.elementwisePerInvocation;
  const rows = dims.slice(0, -1).reduce((a, b) => a * b, 1);
  if (shortRows) {
    gpu.run(k, bindings, [Math.min(Math.ceil(rows / workgroup), maxGroups)], values);
    return;
  }
  const xGroups = Math.min(Math.ceil(steps / (workgroup * perInvocation)), maxGroups);
  // Software adapters pay for every workgroup: rows share one (the row loop strides on).
  const yGroups = gpu.profile.packRows ? Math.max(1, Math.min(rows, Math.ceil((rows * steps) / (workgroup * perInvocation * xGroups)))) : rows;
  gpu.run(k, bindings, [xGroups, Math.min(yGroups, maxGroups)], values);
}
