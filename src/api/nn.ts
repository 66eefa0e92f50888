// `nn`: layers as torch.nn has them (Module, Conv2d, BatchNorm2d, ...: parameters, state_dict names,
// train() / eval()) and the functional ops behind them, all recording gradients.

export { batchNorm2d, type BatchNormOptions, conv2d, type Conv2dOptions, crossEntropy, linear, maxPool2d, type PoolOptions } from '../autograd/ops/nn.js';
export { channelShuffle } from '../autograd/ops/shape.js';
export { BatchNorm2d, Conv2d, Linear, MaxPool2d, Module, ReLU, Sequential } from '../model/module.js';
