// Symbolic derivatives of element-wise expressions, so that a fused chain's backward pass is also
// one fused kernel per input: d expr / d input_i, simplified where terms are 0 or 1.

import { E, type Expr } from '../kernels/expr.js';

const isConst = (e: Expr, v: number) => e.k === 'const' && e.v === v;

function add(a: Expr, b: Expr): Expr {
  if (isConst(a, 0)) return b;
  if (isConst(b, 0)) return a;
  return E.add(a, b);
}

function sub(a: Expr, b: Expr): Expr {
  if (isConst(b, 0)) return a;
  if (isConst(a, 0)) return E.neg(b);
  return E.sub(a, b);
}

function mul(a: Expr, b: Expr): Expr {
  if (isConst(a, 0) || isConst(b, 0)) return E.c(0);
  if (isConst(a, 1)) return b;
  if (isConst(b, 1)) return a;
  return E.mul(a, b);
}

const div = (a: Expr, b: Expr): Expr => (isConst(a, 0) ? E.c(0) : E.div(a, b));

/** d e / d input_i, as an expression of the same inputs. */
export function derivative(e: Expr, i: number): Expr {
  const d = (x: Expr) => derivative(x, i);
  switch (e.k) {
    case 'in':
      return E.c(e.i === i ? 1 : 0);
    case 'const':
    case 'param':
      return E.c(0);
    case 'un': {
      const da = d(e.a);
      if (isConst(da, 0)) return da;
      switch (e.op) {
        case 'neg':
          return mul(E.c(-1), da);
        case 'relu':
          return mul(E.step(e.a), da);
        case 'sqrt':
          return mul(div(E.c(0.5), E.un('sqrt', e.a)), da);
        case 'rsqrt':
          return mul(mul(E.c(-0.5), E.div(E.un('rsqrt', e.a), e.a)), da);
        case 'exp':
          return mul(E.un('exp', e.a), da);
        case 'log':
          return div(da, e.a);
        case 'abs':
          return mul(E.sub(E.step(e.a), E.step(E.neg(e.a))), da);
        case 'step':
          return E.c(0);
        case 'square':
          return mul(mul(E.c(2), e.a), da);
        case 'recip':
          return mul(E.neg(E.un('recip', E.un('square', e.a))), da);
      }
      break;
    }
    case 'bin': {
      const da = d(e.a);
      const db = d(e.b);
      switch (e.op) {
        case 'add':
          return add(da, db);
        case 'sub':
          return sub(da, db);
        case 'mul':
          return add(mul(da, e.b), mul(e.a, db));
        case 'div':
          return sub(div(da, e.b), div(mul(e.a, db), E.mul(e.b, e.b)));
        case 'max':
          // Ties send the gradient to the first argument.
          return E.select(E.step(E.sub(e.b, e.a)), db, da);
        case 'min':
          return E.select(E.step(E.sub(e.a, e.b)), db, da);
      }
      break;
    }
    case 'select': {
      const da = d(e.a);
      const db = d(e.b);
      if (isConst(da, 0) && isConst(db, 0)) return E.c(0);
      return E.select(e.cond, da, db);
    }
  }
}
