// CPU reference for the optimizer updates, line by line as torch.optim (1.13, single-tensor path)
// writes them, in float32 like PyTorch's tensors.

/** SGD's hyper-parameters (also the GPU kernel's, src/kernels/sgd.ts). */
export interface SgdHyper {
  lr: number;
  momentum: number;
  weightDecay: number;
  /** The first step copies the gradient into the momentum buffer, as torch.optim.SGD does. */
  firstStep: boolean;
}

/** Adam's and AdamW's hyper-parameters (also the GPU kernel's, src/kernels/adam.ts). */
export interface AdamHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: decay the weights directly instead of adding weight_decay * p to the gradient. */
  decoupled: boolean;
  step: number;
}

const f = Math.fround;

export function sgdStep(p: Float32Array, g: Float32Array, buf: Float32Array, h: SgdHyper): void {
  for (let i = 0; i < p.length; i++) {
    let d = h.weightDecay !== 0 ? f(g[i] + f(h.weightDecay * p[i])) : g[i];
    if (h.momentum !== 0) {
      buf[i] = h.firstStep ? d : f(f(buf[i] * h.momentum) + d);
      d = buf[i];
    }
    p[i] = f(p[i] - f(h.lr * d));
  }
}

export function adamStep(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, h: AdamHyper): void {
  const bias1 = 1 - h.beta1 ** h.step;
  const bias2Sqrt = Math.sqrt(1 - h.beta2 ** h.step);
  const stepSize = h.lr / bias1;
  for (let i = 0; i < p.length; i++) {
    let grad = g[i];
    if (h.decoupled) p[i] = f(p[i] * f(1 - h.lr * h.weightDecay));
    else if (h.weightDecay !== 0) grad = f(grad + f(h.weightDecay * p[i]));
    m[i] = f(f(m[i] * h.beta1) + f(grad * f(1 - h.beta1)));
    v[i] = f(f(v[i] * h.beta2) + f(f(grad * grad) * f(1 - h.beta2)));
    const denom = f(f(f(Math.sqrt(v[i])) / f(bias2Sqrt)) + f(h.eps));
    p[i] = f(p[i] - f(f(stepSize) * f(m[i] / denom)));
  }
}
