// The engine's public surface: tensors, autograd, ops, optimizers, backends.

export type { Backend, Conv2dParams, Epilogue, PoolParams } from '../backends/backend.js';
export { CpuBackend } from '../backends/cpu.js';
export { getBackend, initBackend, setBackend } from './default_backend.js';
export { GpuBackend } from '../backends/gpu.js';
export { Adam, AdamW, type Optimizer, type OptimizerState, SGD } from './optim.js';
export { empty, full, intTensor, ones, scalar, tensor, zeros } from './ops/creation.js';
export { add, div, exp, fused, log, mul, neg, relu, scaleShift, sqrt, square, sub } from './ops/elementwise.js';
export { addInto, broadcastTo, copy } from './ops/plain.js';
export { batchNorm2d, conv2d, conv2dFused, crossEntropy, linear, maxPool2d } from './ops/nn.js';
export { mean, sum } from './ops/reduce.js';
export { cat, channelShuffle, chunk, concatShuffle, contiguous, flatten, narrow, permute, reshape, transpose } from './ops/shape.js';
export { backward, isGradEnabled, noGrad } from './tape.js';
export { keep, type Shape, Tensor, tidy } from './tensor.js';
