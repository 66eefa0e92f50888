// Shape ops. Reshape (of contiguous data), permute, narrow and broadcast are views: no copy, the
// kernels downstream read them through their strides. Concatenation copies once; ShuffleNet's
// concat + channel shuffle is one fused copy whose backward is again a pair of views.

import { E } from '../../kernels/expr.js';
import { record, recordMany } from '../tape.js';
import { contiguousStrides, type Shape, sizeOf, type Tensor } from '../tensor.js';
import { empty, zeros } from './creation.js';
import { copy } from './plain.js';

function normaliseDim(dim: number, rank: number, op: string): number {
  const d = dim < 0 ? dim + rank : dim;
  if (d < 0 || d >= rank) throw new Error(`${op}: dimension ${dim} is out of range for a tensor of rank ${rank}`);
  return d;
}

/** A contiguous version of `t` (itself when it already is). */
export function contiguous(t: Tensor): Tensor {
  if (t.isContiguous()) return t;
  return record('contiguous', [t], copy(t), (g) => [g]);
}

export function reshape(t: Tensor, shape: Shape): Tensor {
  const inferred = shape.indexOf(-1);
  const known = sizeOf(shape.filter((n) => n !== -1));
  const resolved = inferred >= 0 ? shape.map((n) => (n === -1 ? t.size / known : n)) : [...shape];
  if (sizeOf(resolved) !== t.size || !resolved.every(Number.isInteger)) throw new Error(`reshape: cannot view [${t.shape}] (${t.size} elements) as [${shape}]`);
  const source = contiguous(t);
  const out = source.view(resolved, contiguousStrides(resolved));
  return record('reshape', [source], out, (g) => [reshape(g, source.shape)]);
}

export const flatten = (t: Tensor, startDim = 1) => reshape(t, [...t.shape.slice(0, startDim), -1]);

export function permute(t: Tensor, dims: number[]): Tensor {
  if (dims.length !== t.rank || new Set(dims).size !== t.rank) throw new Error(`permute: [${dims}] is not a permutation of ${t.rank} dimensions`);
  const out = t.view(
    dims.map((d) => t.shape[d]),
    dims.map((d) => t.strides[d]),
  );
  const inverse = dims.map((_, i) => dims.indexOf(i));
  return record('permute', [t], out, (g) => [permute(g, inverse)]);
}

export function transpose(t: Tensor, a: number, b: number): Tensor {
  const dims = t.shape.map((_, i) => i);
  const [da, db] = [normaliseDim(a, t.rank, 'transpose'), normaliseDim(b, t.rank, 'transpose')];
  [dims[da], dims[db]] = [dims[db], dims[da]];
  return permute(t, dims);
}

/** Elements start..start+length-1 along `dim`, as a view. */
export function narrow(t: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normaliseDim(dim, t.rank, 'narrow');
  if (start < 0 || length < 0 || start + length > t.shape[d])
    throw new Error(`narrow: [${start}, ${start + length}) is outside dimension ${d} of size ${t.shape[d]}`);
  const shape = t.shape.map((n, i) => (i === d ? length : n));
  const out = t.view(shape, t.strides, t.offset + start * t.strides[d]);
  return record('narrow', [t], out, (g) => {
    const full = zeros(t.shape, t.backend);
    const window = full.view(shape, full.strides, start * full.strides[d]);
    t.backend.map(E.in(0), [g], window);
    window.dispose();
    return [full];
  });
}

/**
 * Splits `t` into equal chunks along `dim` (views). Its backward concatenates the chunks' gradients
 * (one copy each) rather than padding each with zeros and adding them up.
 */
export function chunk(t: Tensor, chunks: number, dim: number): Tensor[] {
  const d = normaliseDim(dim, t.rank, 'chunk');
  if (t.shape[d] % chunks !== 0) throw new Error(`chunk: dimension ${d} of size ${t.shape[d]} does not split into ${chunks} equal parts`);
  const length = t.shape[d] / chunks;
  const shape = t.shape.map((n, i) => (i === d ? length : n));
  const parts = Array.from({ length: chunks }, (_, i) => t.view(shape, t.strides, t.offset + i * length * t.strides[d]));
  return recordMany('chunk', [t], parts, (grads) => [
    cat(
      grads.map((g, i) => g ?? zeros(parts[i].shape, t.backend)),
      d,
    ),
  ]);
}

export function cat(tensors: Tensor[], dim: number): Tensor {
  const first = tensors[0];
  const d = normaliseDim(dim, first.rank, 'cat');
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((n, i) => i !== d && n !== first.shape[i]))
      throw new Error(`cat: shapes ${tensors.map((x) => `[${x.shape}]`).join(', ')} differ outside dimension ${d}`);
  }
  const shape = first.shape.map((n, i) => (i === d ? tensors.reduce((s, t) => s + t.shape[d], 0) : n));
  const out = empty(shape, first.dtype, first.backend);
  const starts: number[] = [];
  let start = 0;
  for (const t of tensors) {
    starts.push(start);
    const window = out.view(t.shape, out.strides, start * out.strides[d]);
    t.backend.map(E.in(0), [t], window);
    window.dispose();
    start += t.shape[d];
  }
  return record('cat', tensors, out, (g) => tensors.map((t, i) => g.view(t.shape, g.strides, g.offset + starts[i] * g.strides[d])));
}

/** The views of a concat + shuffle output [N, 2C, H, W] where its inputs' channels go: even, odd. */
export function shuffledHalves(out: Tensor): [Tensor, Tensor] {
  const [N, C2, H, W] = out.shape;
  const strides = [out.strides[0], 2 * out.strides[1], out.strides[2], out.strides[3]];
  return [0, 1].map((parity) => out.view([N, C2 / 2, H, W], strides, out.offset + parity * out.strides[1])) as [Tensor, Tensor];
}

const sameView = (t: Tensor, v: Tensor) => t.storage === v.storage && t.offset === v.offset && t.strides.every((s, d) => s === v.strides[d]);

/**
 * torchvision's channel_shuffle(cat([a, b], 1), 2) in one pass: channel c of `a` lands on 2c and
 * channel c of `b` on 2c + 1. With `into`, an input already computed in its place there (a producer
 * that wrote into shuffledHalves(into)) is not copied at all. The backward pass is two strided views
 * of the gradient.
 */
export function concatShuffle(a: Tensor, b: Tensor, into?: Tensor): Tensor {
  if (a.rank !== 4 || a.shape.some((n, i) => n !== b.shape[i]))
    throw new Error(`concat_shuffle: needs two NCHW tensors of one shape, got [${a.shape}] and [${b.shape}]`);
  const [N, C, H, W] = a.shape;
  const out = into ?? empty([N, 2 * C, H, W], 'float32', a.backend);
  const halves = shuffledHalves(out);
  [a, b].forEach((t, parity) => {
    if (!sameView(t, halves[parity])) t.backend.map(E.in(0), [t], halves[parity]);
  });
  const result = into ? out.view(out.shape, out.strides, out.offset) : out;
  return record('concat_shuffle', [a, b], result, (g) => shuffledHalves(g));
}

/** torchvision's channel_shuffle: [N, g, C/g, H, W] transposed to [N, C/g, g, H, W]. */
export function channelShuffle(t: Tensor, groups: number): Tensor {
  const [N, C, H, W] = t.shape;
  if (C % groups !== 0) throw new Error(`channel_shuffle: ${C} channels do not split into ${groups} groups`);
  const grouped = reshape(t, [N, groups, C / groups, H * W]);
  return reshape(contiguous(transpose(grouped, 1, 2)), [N, C, H, W]);
}
