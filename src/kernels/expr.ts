// Element-wise expressions: a tiny tree language that the element-wise and reduction kernels compile
// into WGSL (so a chain of element-wise ops becomes one kernel), that the CPU reference evaluates
// directly, and that autograd differentiates symbolically.

export type UnaryOp = 'neg' | 'relu' | 'sqrt' | 'rsqrt' | 'exp' | 'log' | 'abs' | 'step' | 'square' | 'recip';
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min';

export type Expr =
  | { k: 'in'; i: number } // input i at the current element
  | { k: 'const'; v: number } // a literal, baked into the kernel
  | { k: 'param'; i: number } // a float passed at dispatch time (changes without recompiling)
  | { k: 'un'; op: UnaryOp; a: Expr }
  | { k: 'bin'; op: BinaryOp; a: Expr; b: Expr }
  | { k: 'select'; cond: Expr; a: Expr; b: Expr }; // cond > 0 ? a : b

export const E = {
  in: (i: number): Expr => ({ k: 'in', i }),
  c: (v: number): Expr => ({ k: 'const', v }),
  param: (i: number): Expr => ({ k: 'param', i }),
  un: (op: UnaryOp, a: Expr): Expr => ({ k: 'un', op, a }),
  add: (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'add', a, b }),
  sub: (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'sub', a, b }),
  mul: (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'mul', a, b }),
  div: (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'div', a, b }),
  max: (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'max', a, b }),
  min: (a: Expr, b: Expr): Expr => ({ k: 'bin', op: 'min', a, b }),
  relu: (a: Expr): Expr => ({ k: 'un', op: 'relu', a }),
  neg: (a: Expr): Expr => ({ k: 'un', op: 'neg', a }),
  step: (a: Expr): Expr => ({ k: 'un', op: 'step', a }),
  select: (cond: Expr, a: Expr, b: Expr): Expr => ({ k: 'select', cond, a, b }),
};

export function paramCount(e: Expr): number {
  switch (e.k) {
    case 'param':
      return e.i + 1;
    case 'in':
    case 'const':
      return 0;
    case 'un':
      return paramCount(e.a);
    case 'bin':
      return Math.max(paramCount(e.a), paramCount(e.b));
    case 'select':
      return Math.max(paramCount(e.cond), paramCount(e.a), paramCount(e.b));
  }
}

function literal(v: number): string {
  // WGSL rejects non-finite constants; such values must travel as params.
  if (!Number.isFinite(v)) throw new Error(`expression constant ${v} is not finite: pass it as a param`);
  const s = Math.fround(v).toPrecision(9);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

/**
 * WGSL for `e` of type `t` (f32, or vec4<f32> to compute four elements at once), reading input i as
 * `inputName(i)` and float parameter i as `paramName(i)` (both already of type t).
 */
export function toWgsl(e: Expr, inputName: (i: number) => string, paramName: (i: number) => string, t = 'f32'): string {
  const w = (x: Expr) => toWgsl(x, inputName, paramName, t);
  const zero = `${t}(0.0)`;
  switch (e.k) {
    case 'in':
      return inputName(e.i);
    case 'const':
      return `${t}(${literal(e.v)})`;
    case 'param':
      return paramName(e.i);
    case 'un': {
      const a = w(e.a);
      switch (e.op) {
        case 'neg':
          return `(-${a})`;
        case 'relu':
          return `max(${a}, ${zero})`;
        case 'sqrt':
          return `sqrt(${a})`;
        case 'rsqrt':
          return `inverseSqrt(${a})`;
        case 'exp':
          return `exp(${a})`;
        case 'log':
          return `log(${a})`;
        case 'abs':
          return `abs(${a})`;
        case 'step':
          return `select(${zero}, ${t}(1.0), ${a} > ${zero})`;
        case 'square':
          return `(${a} * ${a})`;
        case 'recip':
          return `(${t}(1.0) / ${a})`;
      }
      break;
    }
    case 'bin': {
      const a = w(e.a);
      const b = w(e.b);
      switch (e.op) {
        case 'add':
          return `(${a} + ${b})`;
        case 'sub':
          return `(${a} - ${b})`;
        case 'mul':
          return `(${a} * ${b})`;
        case 'div':
          return `(${a} / ${b})`;
        case 'max':
          return `max(${a}, ${b})`;
        case 'min':
          return `min(${a}, ${b})`;
      }
      break;
    }
    case 'select':
      return `select(${w(e.b)}, ${w(e.a)}, ${w(e.cond)} > ${zero})`;
  }
}

/** Evaluates `e` in float64 for the CPU reference. */
export function evaluate(e: Expr, inputs: ArrayLike<number>, params: ArrayLike<number>): number {
  const ev = (x: Expr) => evaluate(x, inputs, params);
  switch (e.k) {
    case 'in':
      return inputs[e.i];
    case 'const':
      return e.v;
    case 'param':
      return params[e.i];
    case 'un': {
      const a = ev(e.a);
      switch (e.op) {
        case 'neg':
          return -a;
        case 'relu':
          return Math.max(a, 0);
        case 'sqrt':
          return Math.sqrt(a);
        case 'rsqrt':
          return 1 / Math.sqrt(a);
        case 'exp':
          return Math.exp(a);
        case 'log':
          return Math.log(a);
        case 'abs':
          return Math.abs(a);
        case 'step':
          return a > 0 ? 1 : 0;
        case 'square':
          return a * a;
        case 'recip':
          return 1 / a;
      }
      break;
    }
    case 'bin': {
      const a = ev(e.a);
      const b = ev(e.b);
      switch (e.op) {
        case 'add':
          return a + b;
        case 'sub':
          return a - b;
        case 'mul':
          return a * b;
        case 'div':
          return a / b;
        case 'max':
          return Math.max(a, b);
        case 'min':
          return Math.min(a, b);
      }
      break;
    }
    case 'select':
      return ev(e.cond) > 0 ? ev(e.a) : ev(e.b);
  }
}
