// Modules as torch.nn has them: parameters and buffers registered in order (so state_dict keys and
// their order match PyTorch's), children, train() / eval(), freezing. Sequential fuses a Conv2d that
// is followed by a BatchNorm2d (and a ReLU) into one op sequence: in training the batch norm and the
// ReLU share a pass; in inference the batch norm is folded into the convolution's store.

import { empty, full, tensor } from '../autograd/ops/creation.js';
import { relu } from '../autograd/ops/elementwise.js';
import { batchNorm2d, conv2d, conv2dFused, linear, maxPool2d, type PoolOptions } from '../autograd/ops/nn.js';
import { isGradEnabled } from '../autograd/tape.js';
import { keep, type Tensor } from '../autograd/tensor.js';

/** Uniform numbers in [0, 1); parameter initialisation draws from it. */
export type Random = () => number;

export abstract class Module {
  training = true;
  readonly parameters = new Map<string, Tensor>();
  readonly buffers = new Map<string, Tensor>();
  readonly children = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  protected parameter(name: string, t: Tensor): Tensor {
    t.requiresGrad = true;
    this.parameters.set(name, keep(t));
    return t;
  }

  protected buffer(name: string, t: Tensor): Tensor {
    this.buffers.set(name, keep(t));
    return t;
  }

  protected child<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Every parameter with its dotted name, in PyTorch's order. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const own = [...this.parameters].map(([n, t]): [string, Tensor] => [prefix + n, t]);
    return own.concat(...[...this.children].map(([n, c]) => c.namedParameters(`${prefix}${n}.`)));
  }

  /** Every state_dict entry (parameters, then buffers, then children), with its dotted name. */
  namedState(prefix = ''): [string, Tensor | Counter][] {
    const own: [string, Tensor | Counter][] = [...this.parameters, ...this.buffers, ...this.counters()].map(([n, t]) => [prefix + n, t]);
    return own.concat(...[...this.children].map(([n, c]) => c.namedState(`${prefix}${n}.`)));
  }

  /** Integer buffers kept on the CPU (num_batches_tracked). */
  protected counters(): [string, Counter][] {
    return [];
  }

  modules(): Module[] {
    return [this, ...[...this.children.values()].flatMap((c) => c.modules())];
  }

  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }
}

/** An int64 buffer that lives on the CPU: BatchNorm2d's num_batches_tracked. */
export class Counter {
  constructor(public value = 0) {}
}

export class Conv2d extends Module {
  readonly weight: Tensor;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    readonly stride = 1,
    readonly padding = 0,
    readonly groups = 1,
    random: Random = Math.random,
  ) {
    super();
    // PyTorch's default: kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    const fanIn = (inChannels / groups) * kernelSize * kernelSize;
    this.weight = this.parameter('weight', uniform([outChannels, inChannels / groups, kernelSize, kernelSize], 1 / Math.sqrt(fanIn), random));
  }

  get options() {
    return { stride: this.stride, padding: this.padding, groups: this.groups };
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.options);
  }
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked = new Counter();
  private folded: { key: string; scale: Tensor; shift: Tensor } | null = null;

  constructor(
    readonly channels: number,
    readonly eps = 1e-5,
    public momentum = 0.1,
  ) {
    super();
    this.weight = this.parameter('weight', full([channels], 1));
    this.bias = this.parameter('bias', full([channels], 0));
    this.runningMean = this.buffer('running_mean', full([channels], 0));
    this.runningVar = this.buffer('running_var', full([channels], 1));
  }

  protected override counters(): [string, Counter][] {
    return [['num_batches_tracked', this.numBatchesTracked]];
  }

  forward(x: Tensor, fuseRelu = false, into?: Tensor): Tensor {
    if (this.training) this.numBatchesTracked.value++;
    return batchNorm2d(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
      relu: fuseRelu,
      into,
    });
  }

  /** Evaluation-mode scale and shift (weight / sqrt(var + eps), bias - mean * scale), recomputed when a tensor changed. */
  foldedAffine(): { scale: Tensor; shift: Tensor } {
    const key = [this.weight, this.bias, this.runningMean, this.runningVar].map((t) => t.version).join(',');
    if (this.folded?.key !== key) {
      this.folded?.scale.dispose();
      this.folded?.shift.dispose();
      const backend = this.weight.backend;
      const C = this.channels;
      this.folded = backend.cached(() => {
        const stats = empty([4, C], 'float32', backend);
        backend.batchNormStats(null, this.weight, this.bias, this.runningMean, this.runningVar, stats, { momentum: this.momentum, eps: this.eps });
        const folded = { key, scale: keep(stats.view([C], [1], 2 * C)), shift: keep(stats.view([C], [1], 3 * C)) };
        stats.dispose();
        return folded;
      });
    }
    return this.folded;
  }
}

/** Puts every batch norm in `m` in evaluation mode (running statistics), the rest of `m` as it is (`--frozen-bn eval`). */
export function evalBatchNorms(m: Module): void {
  for (const child of m.modules()) if (child instanceof BatchNorm2d) child.training = false;
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return relu(x);
  }
}

export class MaxPool2d extends Module {
  constructor(readonly options: PoolOptions) {
    super();
  }

  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.options);
  }
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    random: Random = Math.random,
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.parameter('weight', uniform([outFeatures, inFeatures], bound, random));
    this.bias = this.parameter('bias', uniform([outFeatures], bound, random));
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/**
 * conv -> batch norm (-> ReLU) as few passes as the mode allows: training fuses the ReLU into the
 * batch norm; inference without gradients folds the batch norm (and the ReLU) into the convolution.
 */
export function convBatchNorm(conv: Conv2d, bn: BatchNorm2d, withRelu: boolean, x: Tensor, into?: Tensor): Tensor {
  const needsGraph = isGradEnabled() && (x.requiresGrad || conv.weight.requiresGrad || bn.weight.requiresGrad || bn.bias.requiresGrad);
  if (!bn.training && !needsGraph) return conv2dFused(x, conv.weight, conv.options, { ...bn.foldedAffine(), relu: withRelu }, into);
  return bn.forward(conv.forward(x), withRelu, into);
}

export class Sequential extends Module {
  readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.child(String(i), m));
  }

  /** With `into`, a final conv + batch norm (+ ReLU) writes its output there. */
  forward(x: Tensor, into?: Tensor): Tensor {
    for (let i = 0; i < this.layers.length; i++) {
      const [m, next, after] = [this.layers[i], this.layers[i + 1], this.layers[i + 2]];
      if (m instanceof Conv2d && next instanceof BatchNorm2d) {
        const withRelu = after instanceof ReLU;
        const last = i + (withRelu ? 3 : 2) === this.layers.length;
        x = convBatchNorm(m, next, withRelu, x, last ? into : undefined);
        i += withRelu ? 2 : 1;
      } else x = m.forward(x);
    }
    return x;
  }
}

function uniform(shape: number[], bound: number, random: Random): Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tensor(
    Float32Array.from({ length: size }, () => (2 * random() - 1) * bound),
    shape,
  );
}
