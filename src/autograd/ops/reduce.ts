// Sums and means over dimensions; their gradients are broadcast views of the incoming gradient.

import { E } from '../../kernels/expr.js';
import { record } from '../tape.js';
import type { Tensor } from '../tensor.js';
import { reduceTo } from './elementwise.js';
import { broadcastTo } from './plain.js';

function reduceDims(t: Tensor, dims: number[] | undefined): boolean[] {
  const chosen = (dims ?? t.shape.map((_, d) => d)).map((d) => (d < 0 ? d + t.rank : d));
  for (const d of chosen) if (d < 0 || d >= t.rank) throw new Error(`sum: dimension ${d} is out of range for shape [${t.shape}]`);
  return t.shape.map((_, d) => chosen.includes(d));
}

function sumScaled(t: Tensor, dims: number[] | undefined, keepDim: boolean, scale: number, name: string): Tensor {
  t.check(name);
  const reduced = reduceDims(t, dims);
  const keptShape = t.shape.map((n, d) => (reduced[d] ? 1 : n));
  const outShape = keepDim ? keptShape : t.shape.filter((_, d) => !reduced[d]);
  const [out] = reduceTo([E.mul(E.in(0), E.c(scale))], [t], keptShape);
  const result = keepDim
    ? out
    : out.view(
        outShape,
        out.strides.filter((_, d) => !reduced[d]),
      );
  if (result !== out) out.dispose();
  return record(name, [t], result, (g) => {
    // g has the output's shape: give it back its reduced dimensions (size 1), then broadcast.
    let next = 0;
    const gKept = keepDim
      ? g
      : g.view(
          keptShape,
          keptShape.map((_, d) => (reduced[d] ? 0 : g.strides[next++])),
        );
    const gFull = broadcastTo(gKept, t.shape);
    if (scale === 1) return [gFull];
    return [reduceTo([E.mul(E.in(0), E.c(scale))], [gFull], t.shape)[0]];
  });
}

/** Sum over `dims` (all when omitted). */
export const sum = (t: Tensor, dims?: number[], keepDim = false) => sumScaled(t, dims, keepDim, 1, 'sum');

/** Mean over `dims` (all when omitted). */
export function mean(t: Tensor, dims?: number[], keepDim = false): Tensor {
  const reduced = reduceDims(t, dims);
  const count = t.shape.reduce((a, n, d) => (reduced[d] ? a * n : a), 1);
  return sumScaled(t, dims, keepDim, 1 / count, 'mean');
}
