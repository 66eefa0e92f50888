// Strided tensor views in kernels, generated from one definition: `view('x', ['N', 'C', 'H', 'W'])`
// gives the uniform parameter names (xOff, xN, xC, xH, xW), a WGSL accessor
// `fn xAt(iN: u32, iC: u32, iH: u32, iW: u32) -> u32` (the element's index in x's buffer), and the values
// to upload for a view (offset and strides). Kernels index through the accessor instead of spelling
// out `P.xOff + n * P.xN + ...`, and list `view.params` instead of the names one by one.

export interface View<N extends string = string, D extends string = string> {
  /** The uniform parameter names: `<name>Off`, then `<name><Dim>` per dimension. */
  readonly params: readonly string[];
  /** WGSL: `fn <name>At(<dims>) -> u32`, declared at module scope (it reads the uniforms P). */
  readonly wgsl: string;
  /** The uniform values for a view with this offset and these strides (one per dimension). */
  values(offset: number, strides: readonly number[]): ViewValues<N, D>;
}

/** A view's uniform values by parameter name: `xOff`, `xN`, ... */
export type ViewValues<N extends string, D extends string> = Record<`${N}Off` | `${N}${D}`, number>;

export function view<const N extends string, const D extends string>(name: N, dims: readonly D[]): View<N, D> {
  const args = dims.map((d) => `i${d}`);
  const params = [`${name}Off`, ...dims.map((d) => `${name}${d}`)];
  const terms = [`P.${name}Off`, ...dims.map((d, i) => `${args[i]} * P.${name}${d}`)];
  return {
    params,
    wgsl: `fn ${name}At(${args.map((a) => `${a}: u32`).join(', ')}) -> u32 { return ${terms.join(' + ')}; }`,
    values(offset, strides) {
      if (strides.length !== dims.length) throw new Error(`view ${name}: ${strides.length} strides for dimensions ${dims.join(', ')}`);
      const out: Record<string, number> = { [`${name}Off`]: offset };
      dims.forEach((d, i) => (out[`${name}${d}`] = strides[i]));
      return out as ViewValues<N, D>;
    },
  };
}

/** The input (x) and output (y) images of the convolution and pooling kernels, NCHW. */
export const X_IMAGE = view('x', ['N', 'C', 'H', 'W']);
export const Y_IMAGE = view('y', ['N', 'C', 'H', 'W']);
export type XImage = ViewValues<'x', 'N' | 'C' | 'H' | 'W'>;
export type YImage = ViewValues<'y', 'N' | 'C' | 'H' | 'W'>;
