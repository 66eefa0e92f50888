// Fused element-wise kernel: out[i] = expr(in0[i], in1[i], ...) over a shape of up to four merged
// dimensions, every operand strided (stride 0 broadcasts, so per-channel scale and shift, bias, and
// scalars need no copies; an output view writes into a slice, a concat or a shuffled channel order).
//
// Tiling: x walks the innermost dimension, y the rows made of the outer three (both grid-stride).
// Each operand's base address for a row is computed once; the inner loop only adds i3 * stride.
// On software adapters each invocation takes about 16 steps of the inner loop (there an invocation
// costs more than the work of one element), or whole rows where rows are shorter than a workgroup. Where the innermost extent is a multiple of 4, a step
// computes 4 neighbouring elements as a vec4: operands of unit stride (and 4-aligned offsets) are read
// and written as vec4, broadcast ones are read once and splatted, other strides are gathered. An
// input living in the output's buffer is read through the output binding.

import type { Gpu, Kernel } from '../gpu/context.js';
import { f32bits } from '../gpu/context.js';
import { type Expr, paramCount, toWgsl } from './expr.js';
import { mergeDims, padRank, type StridedOperand } from './layout.js';

/** How an operand is addressed along the innermost dimension. */
type Access = 'vec4' | 'broadcast' | 'scalar';

const DIMS = ['d0', 'd1', 'd2', 'n3'];

function operandParams(name: string): string[] {
  return [`${name}_off`, `${name}_s0`, `${name}_s1`, `${name}_s2`, `${name}_s3`];
}

interface Variant {
  expr: Expr;
  vec: 1 | 4;
  out: Access;
  inputs: Access[];
  aliased: boolean[];
  floats: number;
  workgroup: number;
  /** One merged dimension: no outer loops. */
  flat: boolean;
  /** Rows shorter than a workgroup: each invocation takes whole rows (software adapters). */
  shortRows: boolean;
}

function kernel(v: Variant): Kernel {
  const T = v.vec === 4 ? 'vec4<f32>' : 'f32';
  const params = [...DIMS, ...operandParams('out')];
  v.inputs.forEach((_, i) => params.push(...operandParams(`in${i}`)));
  for (let i = 0; i < v.floats; i++) params.push(`f${i}`);
  const arrayOf = (a: Access) => (a === 'vec4' ? 'array<vec4<f32>>' : 'array<f32>');
  const bindings = [`@group(0) @binding(1) var<storage, read_write> out: ${arrayOf(v.out)};`];
  let next = 2;
  v.inputs.forEach((a, i) => {
    if (!v.aliased[i]) bindings.push(`@group(0) @binding(${next++}) var<storage, read> in${i}: ${arrayOf(a)};`);
  });
  const base = (name: string) => (v.flat ? `P.${name}_off` : `P.${name}_off + i0 * P.${name}_s0 + i1 * P.${name}_s1 + i2 * P.${name}_s2`);
  const bases = [`    let outBase = ${base('out')};`];
  const hoisted: string[] = [];
  const loads: string[] = [];
  v.inputs.forEach((a, i) => {
    const buffer = v.aliased[i] ? 'out' : `in${i}`;
    bases.push(`    let base${i} = ${base(`in${i}`)};`);
    if (a === 'broadcast') hoisted.push(`    let x${i} = ${T}(${buffer}[base${i}]);`);
    else if (a === 'vec4') loads.push(`      let x${i} = ${buffer}[(base${i} + i3) / 4u];`);
    else if (v.vec === 1) loads.push(`      let x${i} = ${buffer}[base${i} + i3 * P.in${i}_s3];`);
    else loads.push(`      let x${i} = vec4<f32>(${[0, 1, 2, 3].map((k) => `${buffer}[base${i} + (i3 + ${k}u) * P.in${i}_s3]`).join(', ')});`);
  });
  const value = toWgsl(
    v.expr,
    (i) => `x${i}`,
    (i) => `${T}(bitcast<f32>(P.f${i}))`,
    T,
  );
  const store =
    v.out === 'vec4'
      ? '      out[(outBase + i3) / 4u] = y;'
      : v.vec === 1
        ? '      out[outBase + i3 * P.out_s3] = y;'
        : [0, 1, 2, 3].map((k) => `      out[outBase + (i3 + ${k}u) * P.out_s3] = y[${k}];`).join('\n');
  // The walk along a row: grid-stride over the invocations, or the whole row in one (short rows,
  // several of them; a single flat row is always shared out).
  const walk = v.shortRows && !v.flat ? 'for (var e = 0u; e < P.n3; e++)' : `for (var e = gid.x; e < P.n3; e += groups.x * ${v.workgroup}u)`;
  const inner = `${bases.join('\n')}
${hoisted.join('\n')}
      ${walk} {
        let i3 = e * ${v.vec}u;
${loads.join('\n')}
        let y = ${value};
${store}
      }`;
  const rowLoop = (start: string, step: string, content: string) => `  for (var row = ${start}; row < P.d0 * P.d1 * P.d2; row += ${step}) {
    let i2 = row % P.d2;
    let i1 = (row / P.d2) % P.d1;
    let i0 = row / (P.d2 * P.d1);
${content}
  }`;
  const body = v.flat ? inner : v.shortRows ? rowLoop('gid.x', `groups.x * ${v.workgroup}u`, inner) : rowLoop('gid.y', 'groups.y', inner);
  return {
    name: 'elementwise',
    params,
    wgsl: /* wgsl */ `
${bindings.join('\n')}

@compute @workgroup_size(${v.workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
${body}
}
`,
  };
}

/** Whether an operand with these strides (innermost last) can be read or written as aligned vec4s. */
function vec4Aligned(offset: number, strides: number[]): boolean {
  return strides[3] === 1 && offset % 4 === 0 && strides.slice(0, 3).every((s) => s % 4 === 0);
}

/** Writes expr(inputs) into `out` over `shape`; `floats` fill the expression's `param` slots. */
export function elementwise(
  gpu: Gpu,
  expr: Expr,
  inputs: StridedOperand[],
  out: StridedOperand,
  shape: readonly number[],
  floats: readonly number[] = [],
): void {
  const merged = mergeDims(shape, [out.strides, ...inputs.map((x) => x.strides)]);
  const { shape: dims, strides } = padRank(merged.shape, merged.strides, 4);
  const aliased = inputs.map((x) => x.binding.buffer === out.binding.buffer);
  const outAligned = vec4Aligned(out.offset, strides[0]);
  // vec4 needs a whole number of quads per row, and an aliased input read exactly like the output.
  const vec =
    dims[3] % 4 === 0 && inputs.every((x, i) => !aliased[i] || (x.offset === out.offset && strides[i + 1].every((s, d) => s === strides[0][d]) && outAligned))
      ? 4
      : 1;
  const access = (offset: number, s: number[]): Access => (s[3] === 0 ? 'broadcast' : vec === 4 && vec4Aligned(offset, s) ? 'vec4' : 'scalar');
  const outAccess: Access = vec === 4 && outAligned ? 'vec4' : 'scalar';
  const variant: Variant = {
    expr,
    vec,
    out: outAccess,
    inputs: inputs.map((x, i) => (aliased[i] ? outAccess : access(x.offset, strides[i + 1]))),
    aliased,
    floats: paramCount(expr),
    workgroup: gpu.profile.workgroup,
    flat: dims[0] * dims[1] * dims[2] === 1,
    shortRows: gpu.profile.packRows && dims[3] / vec < gpu.profile.workgroup,
  };
  const values: Record<string, number> = { d0: dims[0], d1: dims[1], d2: dims[2], n3: dims[3] / vec };
  const operands = [out, ...inputs];
  ['out', ...inputs.map((_, i) => `in${i}`)].forEach((name, j) => {
    values[`${name}_off`] = operands[j].offset;
    strides[j].forEach((s, d) => (values[`${name}_s${d}`] = s));
  });
  for (let i = 0; i < variant.floats; i++) values[`f${i}`] = f32bits(floats[i]);
  const maxGroups = gpu.maxGroups;
  const bindings = [out.binding, ...inputs.filter((_, i) => !aliased[i]).map((x) => x.binding)];
  const perInvocation = gpu.profile.elementwisePerInvocation;
  const rows = dims[0] * dims[1] * dims[2];
  if (variant.shortRows) {
    gpu.run(kernel(variant), bindings, [Math.min(Math.ceil(rows / variant.workgroup), maxGroups)], values);
    return;
  }
  const xGroups = Math.min(Math.ceil(values.n3 / (variant.workgroup * perInvocation)), maxGroups);
  // Software adapters pay for every workgroup: rows share one (the row loop strides on).
  const yGroups = gpu.profile.packRows ? Math.max(1, Math.min(rows, Math.ceil((rows * values.n3) / (variant.workgroup * perInvocation * xGroups)))) : rows;
  gpu.run(kernel(variant), bindings, [xGroups, Math.min(yGroups, maxGroups)], values);
}
