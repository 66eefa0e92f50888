// Optimizers as torch.optim has them (1.13): SGD with momentum and weight decay, Adam, AdamW. Each
// update is one kernel per parameter, in place; the state (buffers and each parameter's step count,
// as PyTorch keeps them) can be saved and restored to resume a run.

import { noGrad } from './tape.js';
import { keep, type Tensor } from './tensor.js';
import { zeros } from './ops/creation.js';

/** One parameter's state: its step count and named buffers (momentum_buffer, exp_avg, exp_avg_sq). */
export interface ParamState {
  step: number;
  buffers: Record<string, Tensor>;
}

export interface OptimizerState {
  kind: string;
  params: ParamState[];
}

export abstract class Optimizer {
  lr: number;
  protected state: ParamState[];

  constructor(
    readonly params: Tensor[],
    lr: number,
    private readonly bufferNames: string[],
  ) {
    if (params.length === 0) throw new Error('optimizer: no parameters to optimize (is every layer frozen?)');
    this.lr = lr;
    this.state = params.map(() => ({ step: 0, buffers: {} }));
  }

  /** Applies one update to every parameter that has a gradient. */
  step(): void {
    noGrad(() =>
      this.params.forEach((p, i) => {
        if (!p.grad) return;
        const s = this.state[i];
        s.step++;
        for (const name of this.bufferNames) s.buffers[name] ??= keep(zeros(p.shape, p.backend));
        this.update(p, p.grad, s);
        p.version++;
      }),
    );
  }

  protected abstract update(p: Tensor, g: Tensor, s: ParamState): void;

  /** Drops the gradients (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  stateDict(): OptimizerState {
    return { kind: this.constructor.name, params: this.state };
  }

  loadStateDict(saved: OptimizerState): void {
    if (saved.kind !== this.constructor.name) throw new Error(`optimizer: the saved state is for ${saved.kind}, not ${this.constructor.name}`);
    if (saved.params.length !== this.params.length)
      throw new Error(`optimizer: the saved state has ${saved.params.length} parameters, this optimizer ${this.params.length}`);
    this.state.forEach((s) => Object.values(s.buffers).forEach((t) => t.dispose()));
    this.state = saved.params.map((s) => ({ step: s.step, buffers: Object.fromEntries(Object.entries(s.buffers).map(([k, t]) => [k, keep(t)])) }));
  }
}

export interface SgdOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

export class SGD extends Optimizer {
  momentum: number;
  weightDecay: number;

  constructor(params: Tensor[], options: SgdOptions) {
    super(params, options.lr, options.momentum ? ['momentum_buffer'] : []);
    this.momentum = options.momentum ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
  }

  protected update(p: Tensor, g: Tensor, s: ParamState): void {
    // Without momentum the buffer is never touched; the gradient stands in for it.
    const buffer = s.buffers.momentum_buffer ?? g;
    p.backend.sgdStep(p, g, buffer, { lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay, firstStep: s.step === 1 });
  }
}

export interface AdamOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export class Adam extends Optimizer {
  betas: [number, number];
  eps: number;
  weightDecay: number;

  constructor(
    params: Tensor[],
    options: AdamOptions,
    private readonly decoupled = false,
  ) {
    super(params, options.lr, ['exp_avg', 'exp_avg_sq']);
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0;
  }

  protected update(p: Tensor, g: Tensor, s: ParamState): void {
    const [beta1, beta2] = this.betas;
    p.backend.adamStep(p, g, s.buffers.exp_avg, s.buffers.exp_avg_sq, {
      lr: this.lr,
      beta1,
      beta2,
      eps: this.eps,
      weightDecay: this.weightDecay,
      decoupled: this.decoupled,
      step: s.step,
    });
  }
}

/** Adam with decoupled weight decay; PyTorch's default weight_decay for AdamW is 0.01. */
export class AdamW extends Adam {
  constructor(params: Tensor[], options: AdamOptions) {
    super(params, { ...options, weightDecay: options.weightDecay ?? 0.01 }, true);
  }
}
