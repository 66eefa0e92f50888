// Optimizers as torch.optim has them (1.13): SGD with momentum and weight decay, Adam, AdamW.
//
// Multi-tensor layout (as PyTorch's fused/foreach optimizers and apex's multi-tensor apply): the
// optimizer packs its parameters into one flat arena, every parameter a view at its slot's offset;
// their gradients and each state buffer (momentum_buffer, exp_avg, exp_avg_sq) live in arenas of the
// same layout. Backward writes a parameter's first gradient straight into its slot (Tensor.gradSlot),
// so zeroGrad() only forgets the gradients, and step() updates every parameter in one dispatch:
// one per run of neighbouring parameters in the same state (PyTorch's per-parameter step counts; a
// parameter without a gradient is skipped and breaks the run). Slots start on 64-element (256-byte)
// boundaries; the gaps hold zeros, which every update keeps at zero.
//
// The state (each parameter's step count and buffers, as PyTorch keeps them) can be saved and
// restored to resume a run.

import { E } from '../kernels/expr.js';
import type { Backend } from '../backends/backend.js';
import { zeros } from './ops/creation.js';
import { assign } from './ops/plain.js';
import { noGrad } from './tape.js';
import { contiguousStrides, keep, type Tensor } from './tensor.js';

/** One parameter's state: its step count and named buffers (momentum_buffer, exp_avg, exp_avg_sq), views of the state arenas once it has stepped. */
export interface ParamState {
  step: number;
  buffers: Record<string, Tensor>;
}

export interface OptimizerState {
  kind: string;
  params: ParamState[];
}

/** Slot alignment in elements: 256 bytes, the strictest storage-binding offset alignment. */
const SLOT_ALIGN = 64;

/** A run of neighbouring slots updated by one dispatch: flat views of the arenas over [offset, offset + size). */
export interface ArenaRun {
  param: Tensor;
  grad: Tensor;
  buffers: Record<string, Tensor>;
  /** The step count every parameter of the run has after this step. */
  step: number;
}

export abstract class Optimizer {
  lr: number;
  protected state: ParamState[];
  private readonly offsets: number[];
  private readonly arenas: { param: Tensor; grad: Tensor; buffers: Record<string, Tensor> };

  constructor(
    readonly params: Tensor[],
    lr: number,
    private readonly bufferNames: string[],
  ) {
    if (params.length === 0) throw new Error('optimizer: no parameters to optimize (is every layer frozen?)');
    if (new Set(params).size !== params.length) throw new Error('optimizer: a parameter appears more than once');
    const backend = params[0].backend;
    for (const p of params) {
      p.check('optimizer');
      if (p.backend !== backend) throw new Error('optimizer: the parameters live on different backends');
      if (p.dtype !== 'float32') throw new Error(`optimizer: parameters must be float32, got ${p.dtype}`);
    }
    this.lr = lr;
    this.state = params.map(() => ({ step: 0, buffers: {} }));
    let total = 0;
    this.offsets = params.map((p) => {
      const offset = total;
      total += Math.ceil(p.size / SLOT_ALIGN) * SLOT_ALIGN;
      return offset;
    });
    const arena = () => keep(zeros([total], backend));
    this.arenas = { param: arena(), grad: arena(), buffers: Object.fromEntries(bufferNames.map((n) => [n, arena()])) };
    noGrad(() => params.forEach((p, i) => this.place(p, i)));
  }

  get backend(): Backend {
    return this.arenas.param.backend;
  }

  /** A view of `arena` shaped as parameter i, at its slot. */
  private slot(arena: Tensor, i: number): Tensor {
    const shape = this.params[i].shape;
    return arena.view(shape, contiguousStrides(shape), this.offsets[i]);
  }

  /**
   * Moves parameter i (with its gradient) into its slots unless it is there already; also brings it
   * back after another optimizer took it.
   */
  private place(p: Tensor, i: number): void {
    const offset = this.offsets[i];
    if (p.storage !== this.arenas.param.storage || p.offset !== offset) {
      const target = this.slot(this.arenas.param, i);
      assign(target, p);
      target.dispose();
      p.relocate(this.arenas.param.storage, offset);
    }
    let gradSlot = p.gradSlot;
    if (gradSlot?.storage !== this.arenas.grad.storage || gradSlot.offset !== offset) {
      gradSlot?.dispose();
      gradSlot = p.gradSlot = keep(this.slot(this.arenas.grad, i));
    }
    // A gradient set from outside (or left by another optimizer) is copied into the slot; .grad stays as it is.
    const g = p.grad;
    if (g && (g.storage !== gradSlot.storage || g.offset !== offset || !g.isContiguous())) assign(gradSlot, g);
  }

  /** Applies one update to every parameter that has a gradient, one dispatch per run of neighbours in the same state. */
  step(): void {
    noGrad(() => {
      let first = -1;
      for (let i = 0; i <= this.params.length; i++) {
        const p = this.params[i];
        const due = i < this.params.length && p.grad !== null;
        if (due) this.place(p, i);
        if (first >= 0 && (!due || !this.sameRun(this.state[first].step, this.state[i].step))) {
          this.updateRun(first, i);
          first = -1;
        }
        if (due && first < 0) first = i;
      }
    });
  }

  /** Whether parameters with these step counts (before the step) update alike. */
  protected sameRun(a: number, b: number): boolean {
    return a === b;
  }

  /** Steps parameters first..end-1 (neighbours, all with gradients) in one dispatch. */
  private updateRun(first: number, end: number): void {
    const offset = this.offsets[first];
    const size = this.offsets[end - 1] + this.params[end - 1].size - offset;
    const flat = (arena: Tensor) => arena.view([size], [1], offset);
    const buffers = Object.fromEntries(Object.entries(this.arenas.buffers).map(([n, t]) => [n, flat(t)]));
    const run: ArenaRun = { param: flat(this.arenas.param), grad: flat(this.arenas.grad), buffers, step: this.state[first].step + 1 };
    for (let i = first; i < end; i++) {
      const s = this.state[i];
      s.step++;
      if (s.step === 1) for (const name of this.bufferNames) s.buffers[name] = keep(this.slot(this.arenas.buffers[name], i));
    }
    this.update(run);
    [run.param, run.grad, ...Object.values(buffers)].forEach((t) => t.dispose());
    for (let i = first; i < end; i++) this.params[i].version++;
  }

  protected abstract update(run: ArenaRun): void;

  /** Drops the gradients (PyTorch's zero_grad(set_to_none=True)); no GPU work: the next backward writes into the slots. */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  stateDict(): OptimizerState {
    return { kind: this.constructor.name, params: this.state };
  }

  /** Restores saved state: the step counts, and the buffers copied into their slots (the saved tensors are disposed). */
  loadStateDict(saved: OptimizerState): void {
    if (saved.kind !== this.constructor.name) throw new Error(`optimizer: the saved state is for ${saved.kind}, not ${this.constructor.name}`);
    if (saved.params.length !== this.params.length)
      throw new Error(`optimizer: the saved state has ${saved.params.length} parameters, this optimizer ${this.params.length}`);
    saved.params.forEach((s, i) => {
      for (const name of Object.keys(s.buffers))
        if (!this.bufferNames.includes(name)) throw new Error(`optimizer: the saved state has a buffer ${name}, which ${this.constructor.name} does not keep`);
      if (s.buffers[this.bufferNames[0]] && s.buffers[this.bufferNames[0]].size !== this.params[i].size)
        throw new Error(
          `optimizer: the saved buffers of parameter ${i} have ${s.buffers[this.bufferNames[0]].size} values, the parameter ${this.params[i].size}`,
        );
    });
    noGrad(() =>
      saved.params.forEach((s, i) => {
        const state: ParamState = { step: s.step, buffers: {} };
        for (const name of this.bufferNames) {
          const target = this.slot(this.arenas.buffers[name], i);
          const value = s.buffers[name];
          if (value) assign(target, value);
          else target.backend.map(E.c(0), [], target);
          if (s.step > 0) state.buffers[name] = keep(target);
          else target.dispose();
          value?.dispose();
        }
        this.state[i] = state;
      }),
    );
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

  /** Only the first step (which copies the gradient into the momentum buffer) differs from the rest. */
  protected override sameRun(a: number, b: number): boolean {
    return (a === 0) === (b === 0);
  }

  protected update(run: ArenaRun): void {
    // Without momentum the buffer is never touched; the gradient stands in for it.
    const buffer = run.buffers.momentum_buffer ?? run.grad;
    this.backend.sgdStep(run.param, run.grad, buffer, { lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay, firstStep: run.step === 1 });
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

  protected update(run: ArenaRun): void {
    const [beta1, beta2] = this.betas;
    this.backend.adamStep(run.param, run.grad, run.buffers.exp_avg, run.buffers.exp_avg_sq, {
      lr: this.lr,
      beta1,
      beta2,
      eps: this.eps,
      weightDecay: this.weightDecay,
      decoupled: this.decoupled,
      step: run.step,
    });
  }
}

/** Adam with decoupled weight decay; PyTorch's default weight_decay for AdamW is 0.01. */
export class AdamW extends Adam {
  constructor(params: Tensor[], options: AdamOptions) {
    super(params, { ...options, weightDecay: options.weightDecay ?? 0.01 }, true);
  }
}
