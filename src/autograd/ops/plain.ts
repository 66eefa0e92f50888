// Tensor arithmetic that records nothing, for the tape itself (adding up gradients) and for the
// recording ops built on it: broadcasting, a contiguous copy, in-place assignment and addition,
// out-of-place addition.

import { E } from '../../kernels/expr.js';
import type { Shape, Tensor } from '../tensor.js';
import { empty } from './creation.js';

const x0 = E.in(0);
const x1 = E.in(1);

export function broadcastShapes(shapes: Shape[], op = 'broadcast'): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let d = 0; d < rank; d++) {
    let n = 1;
    for (const s of shapes) {
      const m = s[s.length - rank + d] ?? 1;
      if (m !== 1 && n !== 1 && m !== n) throw new Error(`${op}: shapes ${shapes.map((x) => `[${x}]`).join(' and ')} do not broadcast`);
      if (m !== 1) n = m;
    }
    out.push(n);
  }
  return out;
}

/** A stride-0 view of `t` with shape `shape` (no copy; no autograd). */
export function broadcastTo(t: Tensor, shape: Shape): Tensor {
  const lead = shape.length - t.rank;
  if (lead === 0 && t.shape.every((n, d) => n === shape[d])) return t;
  const strides = shape.map((n, d) => {
    const src = d - lead;
    if (src < 0) return 0;
    if (t.shape[src] === n) return t.strides[src];
    if (t.shape[src] === 1) return 0;
    throw new Error(`broadcast: cannot expand [${t.shape}] to [${shape}]`);
  });
  return t.view(shape, strides);
}

/** A contiguous copy (no autograd). */
export function copy(t: Tensor): Tensor {
  const out = empty(t.shape, t.dtype, t.backend);
  t.backend.map(x0, [t], out);
  return out;
}

/** target = source (broadcast), in place (no autograd). */
export function assign(target: Tensor, source: Tensor): void {
  target.backend.map(x0, [broadcastTo(source, target.shape)], target);
  target.version++;
}

/** target += g, in place (no autograd). */
export function addInto(target: Tensor, g: Tensor): void {
  target.backend.map(E.add(x0, x1), [target, broadcastTo(g, target.shape)], target);
  target.version++;
}

/** a + b, broadcast, as a new tensor (no autograd). */
export function sum2(a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes([a.shape, b.shape], 'add');
  const out = empty(shape, 'float32', a.backend);
  a.backend.map(E.add(x0, x1), [broadcastTo(a, shape), broadcastTo(b, shape)], out);
  return out;
}
