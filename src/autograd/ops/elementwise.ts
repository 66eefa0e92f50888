// Element-wise ops with NumPy broadcasting. Every element-wise op is one fused kernel: `fused` takes
// an expression over its inputs; its backward is, per input, the expression g * d(expr)/d(input) as
// one more fused kernel, reduced over the dimensions the input was broadcast along.

import { E, type Expr } from '../../kernels/expr.js';
import { derivative } from '../derivative.js';
import { record } from '../tape.js';
import { contiguousStrides, type Shape, type Tensor } from '../tensor.js';
import { empty } from './creation.js';
import { broadcastShapes, broadcastTo } from './plain.js';

/**
 * Evaluates `exprs` (one, or several over the same inputs) on inputs of the full shape and sums each
 * over the dimensions where `target` (right-aligned) has size 1 or is missing.
 */
export function reduceTo(exprs: Expr[], inputs: Tensor[], target: Shape, floats: number[] = []): Tensor[] {
  const shape = inputs[0].shape;
  const lead = shape.length - target.length;
  const reduceDims = shape.map((n, d) => d < lead || (target[d - lead] === 1 && n !== 1));
  const backend = inputs[0].backend;
  if (!reduceDims.some(Boolean)) {
    return exprs.map((e) => {
      const out = empty(target, 'float32', backend);
      backend.map(e, inputs, out, floats);
      return out;
    });
  }
  const kept = shape.map((n, d) => (reduceDims[d] ? 1 : n));
  const out = empty([exprs.length, ...kept], 'float32', backend);
  backend.reduce(exprs, inputs, out, reduceDims, floats);
  const views = exprs.map((_, k) => out.view(target, contiguousStrides(target), out.offset + k * out.strides[0]));
  out.dispose();
  return views;
}

/** out = expr(inputs...), broadcast; differentiable in every input. */
export function fused(expr: Expr, inputs: Tensor[], floats: number[] = [], name = 'fused'): Tensor {
  for (const t of inputs) {
    t.check(name);
    if (t.dtype !== 'float32') throw new Error(`${name}: expected float32 inputs, got ${t.dtype} of shape [${t.shape}]`);
  }
  const backend = inputs[0]?.backend;
  const shape = broadcastShapes(
    inputs.map((t) => t.shape),
    name,
  );
  const expanded = inputs.map((t) => broadcastTo(t, shape));
  const out = empty(shape, 'float32', backend);
  backend.map(expr, expanded, out, floats);
  return record(name, inputs, out, (g) =>
    inputs.map((t, i) => {
      if (!t.requiresGrad) return null;
      const gradExpr = E.mul(E.in(inputs.length), derivative(expr, i));
      return reduceTo([gradExpr], [...expanded, g], t.shape, floats)[0];
    }),
  );
}

const x0 = E.in(0);
const x1 = E.in(1);

export const add = (a: Tensor, b: Tensor) => fused(E.add(x0, x1), [a, b], [], 'add');
export const sub = (a: Tensor, b: Tensor) => fused(E.sub(x0, x1), [a, b], [], 'sub');
export const mul = (a: Tensor, b: Tensor) => fused(E.mul(x0, x1), [a, b], [], 'mul');
export const div = (a: Tensor, b: Tensor) => fused(E.div(x0, x1), [a, b], [], 'div');
export const neg = (a: Tensor) => fused(E.neg(x0), [a], [], 'neg');
export const relu = (a: Tensor) => fused(E.relu(x0), [a], [], 'relu');
export const exp = (a: Tensor) => fused(E.un('exp', x0), [a], [], 'exp');
export const log = (a: Tensor) => fused(E.un('log', x0), [a], [], 'log');
export const sqrt = (a: Tensor) => fused(E.un('sqrt', x0), [a], [], 'sqrt');
export const square = (a: Tensor) => fused(E.un('square', x0), [a], [], 'square');
/** a * s + t with scalars s and t passed at dispatch time (no recompilation when they change). */
export const scaleShift = (a: Tensor, s: number, t = 0) => fused(E.add(E.mul(x0, E.param(0)), E.param(1)), [a], [s, t], 'scale_shift');
