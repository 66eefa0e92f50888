// `optim`: the optimizers, with PyTorch's update rules and state.

export { Adam, AdamW, type Optimizer, type OptimizerState, SGD } from '../autograd/optim.js';
