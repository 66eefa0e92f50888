// Making tensors: from CPU data, filled with a value, or uninitialised (for ops to write into).

import { E } from '../../kernels/expr.js';
import type { Backend } from '../../backends/backend.js';
import { getBackend } from '../default_backend.js';
import { type DType, type Shape, sizeOf, Tensor } from '../tensor.js';

function checkShape(shape: Shape, op: string): void {
  if (!shape.every((n) => Number.isInteger(n) && n >= 0)) throw new Error(`${op}: invalid shape [${shape}]`);
}

/** An uninitialised contiguous tensor. */
export function empty(shape: Shape, dtype: DType = 'float32', backend: Backend = getBackend()): Tensor {
  checkShape(shape, 'empty');
  return new Tensor(backend.alloc(sizeOf(shape), dtype), shape, undefined, 0, dtype);
}

export function tensor(data: ArrayLike<number>, shape: Shape = [data.length], backend: Backend = getBackend()): Tensor {
  checkShape(shape, 'tensor');
  if (sizeOf(shape) !== data.length) throw new Error(`tensor: ${data.length} values do not fill shape [${shape}] (${sizeOf(shape)} elements)`);
  return new Tensor(backend.upload(data instanceof Float32Array ? data : Float32Array.from(data)), shape);
}

export function intTensor(data: ArrayLike<number>, shape: Shape = [data.length], backend: Backend = getBackend()): Tensor {
  checkShape(shape, 'intTensor');
  if (sizeOf(shape) !== data.length) throw new Error(`intTensor: ${data.length} values do not fill shape [${shape}]`);
  return new Tensor(backend.upload(data instanceof Int32Array ? data : Int32Array.from(data)), shape, undefined, 0, 'int32');
}

export function full(shape: Shape, value: number, backend: Backend = getBackend()): Tensor {
  const t = empty(shape, 'float32', backend);
  if (t.size > 0) backend.map(E.c(value), [], t);
  return t;
}

export const zeros = (shape: Shape, backend?: Backend) => full(shape, 0, backend);
export const ones = (shape: Shape, backend?: Backend) => full(shape, 1, backend);
export const scalar = (value: number, backend?: Backend) => full([], value, backend);
