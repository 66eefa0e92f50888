// SGD update, in place, as torch.optim.SGD (dampening 0, no Nesterov):
//   d = g + weight_decay * p;  buf = first step ? d : momentum * buf + d;  p = p - lr * buf.
//
// Runs over a flat range of an optimizer's arenas (parameters, gradients, momentum at one offset):
// one dispatch steps every parameter of the range (src/autograd/optim.ts).
// Tiling: one invocation per element (grid-stride over x); the hyper-parameters travel as uniforms,
// so a new learning rate every epoch compiles nothing.

import type { Binding, Gpu, Kernel } from '../gpu/context.js';
import { f32bits } from '../gpu/context.js';
import type { SgdHyper } from '../reference/optim.js';

export interface FlatOperand {
  binding: Binding;
  off: number;
}

function kernel(workgroup: number, momentum: boolean): Kernel {
  return {
    name: momentum ? 'sgd_momentum' : 'sgd',
    params: ['size', 'pOff', 'gOff', 'bOff', 'lr', 'momentum', 'weightDecay', 'firstStep'],
    wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
${momentum ? '@group(0) @binding(3) var<storage, read_write> buf: array<f32>;' : ''}

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let lr = bitcast<f32>(P.lr);
  ${momentum ? 'let momentum = bitcast<f32>(P.momentum);' : ''}
  let weightDecay = bitcast<f32>(P.weightDecay);
  for (var i = gid.x; i < P.size; i += groups.x * ${workgroup}u) {
    let p = param[P.pOff + i];
    var d = grad[P.gOff + i] + weightDecay * p;${
      momentum
        ? `
    if (P.firstStep == 0u) { d = buf[P.bOff + i] * momentum + d; }
    buf[P.bOff + i] = d;`
        : ''
    }
    param[P.pOff + i] = p - lr * d;
  }
}
`,
  };
}

/** `momentum` is the momentum buffer, null when h.momentum is 0. */
export function sgdStep(gpu: Gpu, size: number, param: FlatOperand, grad: FlatOperand, momentum: FlatOperand | null, h: SgdHyper): void {
  const workgroup = gpu.profile.updateWorkgroup;
  const groups = Math.min(Math.ceil(size / workgroup), gpu.maxGroups);
  const bindings = [param.binding, grad.binding];
  if (momentum) bindings.push(momentum.binding);
  gpu.run(kernel(workgroup, momentum !== null), bindings, [groups], {
    size,
    pOff: param.off,
    gOff: grad.off,
    bOff: momentum?.off ?? 0,
    lr: f32bits(h.lr),
    momentum: f32bits(h.momentum),
    weightDecay: f32bits(h.weightDecay),
    firstStep: h.firstStep ? 1 : 0,
  });
}
