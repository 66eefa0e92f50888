// What the kernels over strided windows share (depthwise convolution, the direct stem, max pooling, their gradients):
// the geometry of a pooling, and for the gathers that run a window backwards (an input element
// collecting from the outputs whose windows cover it) which taps each element of a run takes.
//
// A gather over a row handles a run of R neighbouring input elements, R a multiple of the stride, so
// that every run starts on the same phase: element j of a run starting at w0 takes tap kw from the
// output column w0 / s + (j + p - kw) / s where j + p - kw divides by s, and from nothing otherwise,
// all of it known when the kernel is generated.

export interface PoolGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  OH: number;
  OW: number;
  kernel: number;
  stride: number;
  padding: number;
}

/** Input elements per invocation of a gather: the smallest multiple of the stride from 4 on. */
export function runLength(stride: number): number {
  return stride * Math.ceil(4 / stride);
}

export interface RunTaps {
  /** For element j of a run and tap kw: the index into `columns` it reads, or null where the tap misses it. */
  taps: (number | null)[][];
  /** The output columns the run reads, relative to w0 / s (consecutive). */
  columns: number[];
}

export function runTaps(K: number, stride: number, padding: number, run: number): RunTaps {
  const offsets = Array.from({ length: run }, (_, j) =>
    Array.from({ length: K }, (_, kw) => {
      const t = j + padding - kw;
      return ((t % stride) + stride) % stride === 0 ? t / stride : null;
    }),
  );
  const used = offsets.flat().filter((o): o is number => o !== null);
  const first = Math.min(...used);
  return {
    taps: offsets.map((row) => row.map((o) => (o === null ? null : o - first))),
    columns: Array.from({ length: Math.max(...used) - first + 1 }, (_, i) => first + i),
  };
}

/** WGSL `col0 + offset` (an i32 expression). */
export function columnAt(offset: number): string {
  return offset < 0 ? `(col0 - ${-offset})` : `(col0 + ${offset})`;
}

/**
 * WGSL of the loop over the tap rows that reach input row h: kh = (h + p) mod s, then every s-th,
 * with `oh` the output row each reads (rows outside the output skipped); `body` inside.
 */
export function tapRows(K: number, stride: number, padding: number, body: string): string {
  return /* wgsl */ `for (var kh = ${stride === 1 ? '0u' : `(h + ${padding}u) % ${stride}u`}; kh < ${K}u; kh += ${stride}u) {
      let th = i32(h + ${padding}u) - i32(kh);
      if (th < 0 || u32(th) / ${stride}u >= P.OH) { continue; }
      let oh = u32(th) / ${stride}u;
      ${body}
    }`;
}

/** `f(0) ... f(n - 1)`, one statement each, joined with `separator` (generated, unrolled code). */
export function unrolled(n: number, f: (i: number) => string, separator = '\n      '): string {
  return Array.from({ length: n }, (_, i) => f(i)).join(separator);
}

/**
 * WGSL of the input columns a run of outputs starting at output column ow0 reads (stride `stride`,
 * padding `padding`, `span` columns): ok<i> (inside the row) and col<i> (clamped into it).
 */
export function runColumns(span: number, stride: number, padding: number): string {
  return `let w0 = i32(ow0 * ${stride}u) - ${padding};
    ${unrolled(span, (i) => `let ok${i} = w0 + ${i} >= 0 && w0 + ${i} < i32(P.W);\n    let col${i} = u32(clamp(w0 + ${i}, 0, i32(P.W) - 1));`, '\n    ')}`;
}

/** WGSL of the values v<i> of those columns in input row `row` (x's accessors), 0 outside it or where `rowOk` is false. */
export function runValues(span: number, rowOk = ''): string {
  return unrolled(span, (i) => `let v${i} = select(0.0, x[xAt(row, col${i})], ok${i}${rowOk ? ` && ${rowOk}` : ''});`);
}

/**
 * WGSL of input row h for tap row kh of output row `outputRow` (a u32 variable), its base `row`
 * (clamped into the plane of image n, channel `channel`) and `okRow`.
 */
export function tapRow(channel: string, kh: number, stride: number, padding: number, outputRow = 'oh'): string {
  return `let h = i32(${outputRow} * ${stride}u) + ${kh - padding};
      let row = xBase(n, ${channel}, u32(clamp(h, 0, i32(P.H) - 1)));
      let okRow = h >= 0 && h < i32(P.H);`;
}

/**
 * WGSL storing a run's outputs `acc(j)`, j < `run`, into output row `out` (y's accessors) from
 * column ow0, those inside the row, each through `epilogue` on the variable v.
 */
export function runStores(run: number, acc: (j: number) => string, epilogue: (v: string) => string): string {
  return unrolled(
    run,
    (j) => `if (ow0 + ${j}u < P.OW) {\n        var v = ${acc(j)};\n        ${epilogue('v')}\n        y[yAt(out, ow0 + ${j}u)] = v;\n      }`,
  );
}

/** A view's layout as window kernels address it: offset and strides per dimension, NCHW. */
interface NchwLayout {
  offset: number;
  strides: readonly number[];
}

/**
 * Whether an NCHW view's rows of `W` elements can be read or written as aligned quads (vec4): unit
 * stride along W, the offset, the other strides and W multiples of 4 (a quad is then wholly inside
 * a row or wholly outside it).
 */
export function quadRows(v: NchwLayout, W: number): boolean {
  return v.strides[3] === 1 && W % 4 === 0 && v.offset % 4 === 0 && v.strides.slice(0, 3).every((s) => s % 4 === 0);
}

/**
 * WGSL of the `span` values v0 ... a run reads from one row, as quads: value i sits at column
 * 4 * q0 + first + i of the row starting at element `row` (a multiple of 4). The quads covering them
 * are read whole (their index clamped into the row of `quads` quads) and each value taken from its
 * component, 0 where its quad lies outside the row or `rowOk` is false: span / 4 + 1 loads instead
 * of span.
 */
export function quadRowLoads(array: string, span: number, first: number, rowOk: string): string {
  const lo = Math.floor(first / 4);
  const hi = Math.floor((first + span - 1) / 4);
  const lines = Array.from({ length: hi - lo + 1 }, (_, k) => `let quad${k} = ${array}[(row + 4u * u32(clamp(q0 + ${lo + k}, 0, quads - 1))) / 4u];`);
  for (let i = 0; i < span; i++) {
    const at = first + i - 4 * lo;
    const q = `q0 + ${lo + Math.floor(at / 4)}`;
    lines.push(`let v${i} = select(0.0, quad${Math.floor(at / 4)}.${'xyzw'[at % 4]}, ${rowOk} && ${q} >= 0 && ${q} < quads);`);
  }
  return lines.join('\n      ');
}
