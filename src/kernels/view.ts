// Operand views, the one way a kernel addresses a strided operand. A `View` is a storage binding, the
// element offset of the operand's first element and one stride per dimension (elements; 0 =
// broadcast), as a tensor view has them. `view(name, outer, inner)` generates, from one definition,
// the uniform parameter names, the WGSL accessors and the values to upload:
//
//   const X = view('x', ['N', 'C'], ['H', 'W']);
//   params: [...X.params, ...]                 // 'xOff', 'xN', 'xC', 'xH', 'xW'
//   wgsl:   `${X.wgsl} ... let plane = xBase(n, c); ... x[xAt(plane, h, w)] ...`
//   run:    gpu.run(kernel, bindings, groups, { ...X.values(x), ... })
//
// The generated functions are
//   fn xBase(n: u32, c: u32) -> u32          // P.xOff + n * P.xN + c * P.xC: once per plane (or row)
//   fn xAt(base: u32, h: u32, w: u32) -> u32  // base + h * P.xH + w * P.xW: per element
// so the offset and outer strides are applied once, outside the inner loops, as hand-written plane
// and row bases were (an accessor taking every index per element slowed llvmpipe's training step).
// With no outer dimensions `xBase()` is the offset alone; with no inner ones `xAt(base)` is the base.
// `view(name, outer, inner, { unitStride: true })` bakes a stride of 1 for the last inner dimension
// (no uniform; `values` throws on any other stride): a contiguous run, read as vec4 or walked as is.

import type { Binding, Params } from '../gpu/context.js';

/** A kernel operand: buffer, element offset and strides (elements) per dimension. */
export interface View {
  binding: Binding;
  offset: number;
  strides: readonly number[];
}

export interface ViewAccessor {
  /** The uniform fields, in order: `${name}Off`, then one stride per dimension, `${name}${Dim}`. */
  readonly params: readonly string[];
  /** WGSL: `fn ${name}Base(outer indices) -> u32` and `fn ${name}At(base, inner indices) -> u32`. */
  readonly wgsl: string;
  /** The uniform values of one operand (its strides must have one entry per dimension). */
  values(v: View): Params;
}

export function view(name: string, outer: readonly string[], inner: readonly string[] = [], options: { unitStride?: boolean } = {}): ViewAccessor {
  const dims = [...outer, ...inner];
  const unit = options.unitStride === true;
  if (unit && inner.length === 0) throw new Error(`view ${name}: a unit stride needs an inner dimension`);
  const off = `${name}Off`;
  const strided = unit ? dims.slice(0, -1) : dims;
  const strides = strided.map((d) => `${name}${d}`);
  if (new Set(dims).size !== dims.length) throw new Error(`view ${name}: dimension names [${dims}] repeat`);
  const index = (d: string) => d.toLowerCase();
  const term = (d: string) => (unit && d === dims[dims.length - 1] ? ` + ${index(d)}` : ` + ${index(d)} * P.${name}${d}`);
  const terms = (ds: readonly string[]) => ds.map(term).join('');
  const args = (ds: readonly string[]) => ds.map((d) => `${index(d)}: u32`);
  const wgsl = `fn ${name}Base(${args(outer).join(', ')}) -> u32 { return P.${off}${terms(outer)}; }
fn ${name}At(${['base: u32', ...args(inner)].join(', ')}) -> u32 { return base${terms(inner)}; }
`;
  return {
    params: [off, ...strides],
    wgsl,
    values(v: View): Params {
      if (v.strides.length !== dims.length) throw new Error(`view ${name}: ${dims.length} strides expected ([${dims}]), got [${v.strides}]`);
      if (unit && v.strides[dims.length - 1] !== 1) throw new Error(`view ${name}: unit stride expected along ${dims[dims.length - 1]}, got [${v.strides}]`);
      const out: Params = { [off]: v.offset };
      for (let d = 0; d < strided.length; d++) out[strides[d]] = v.strides[d];
      return out;
    },
  };
}
