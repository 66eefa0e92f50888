// The tape itself, on the CPU reference: accumulation, reuse, no-grad scopes, memory scopes, errors.

import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu.js';
import { setBackend } from '../src/autograd/default_backend.js';
import { tensor } from '../src/autograd/ops/creation.js';
import { add, mul, relu } from '../src/autograd/ops/elementwise.js';
import { sum } from '../src/autograd/ops/reduce.js';
import { chunk } from '../src/autograd/ops/shape.js';
import { backward, noGrad } from '../src/autograd/tape.js';
import { tidy } from '../src/autograd/tensor.js';

setBackend(new CpuBackend());

const leaf = (values: number[]) => {
  const t = tensor(values);
  t.requiresGrad = true;
  return t;
};

describe('autograd', () => {
  it('adds gradients up over backward() calls until they are zeroed', async () => {
    const x = leaf([1, 2, 3]);
    backward(sum(mul(x, x)));
    backward(sum(mul(x, x)));
    expect(Array.from(await x.grad!.data())).toEqual([4, 8, 12]);
  });

  it('sums the gradients of a tensor used several times, also through a multi-output op', async () => {
    const x = leaf([1, -2, 3, -4]);
    const [a, b] = chunk(x, 2, 0);
    backward(add(sum(mul(relu(a), b)), sum(add(x, x))));
    // d/da = relu'(a) * b = [3, 0], d/db = relu(a) = [1, 0], and 2 everywhere from x + x.
    expect(Array.from(await x.grad!.data())).toEqual([5, 2, 3, 2]);
  });

  it('records nothing under noGrad', () => {
    const x = leaf([1, 2]);
    const y = noGrad(() => mul(x, x));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
  });

  it('frees what a tidy() created, except what it returns', () => {
    const x = tensor([1, 2]);
    let inner!: ReturnType<typeof tensor>;
    const kept = tidy(() => {
      inner = mul(x, x);
      return add(inner, x);
    });
    expect(inner.isDisposed).toBe(true);
    expect(kept.isDisposed).toBe(false);
    expect(() => mul(inner, x)).toThrow(/already disposed/);
  });

  it('asks for a gradient for a non-scalar, and for a graph at all', () => {
    const x = leaf([1, 2]);
    expect(() => backward(mul(x, x))).toThrow(/non-scalar/);
    expect(() => backward(sum(tensor([1, 2])))).toThrow(/does not require a gradient/);
  });
});
