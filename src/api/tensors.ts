// The package root's tensors and autograd (tfjs's `tf.*`): creating tensors, the ops that record
// gradients, reductions and views, backward, and the default backend. Ops that do not record
// (copy, addInto, broadcastTo, fused kernels) and the backend classes stay inside the engine.

export { getBackend, initBackend } from '../autograd/default_backend.js';
export type { Backend } from '../backends/backend.js';
export { full, intTensor, ones, scalar, tensor, zeros } from '../autograd/ops/creation.js';
export { add, div, exp, log, mul, neg, relu, sqrt, square, sub } from '../autograd/ops/elementwise.js';
export { mean, sum } from '../autograd/ops/reduce.js';
export { cat, chunk, contiguous, flatten, narrow, permute, reshape, transpose } from '../autograd/ops/shape.js';
export { backward, isGradEnabled, noGrad } from '../autograd/tape.js';
export { keep, type DType, type Shape, Tensor, tidy } from '../autograd/tensor.js';
export { NoAdapterError, type AdapterDescription } from '../gpu/device.js';
