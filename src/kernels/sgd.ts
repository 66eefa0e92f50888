// SGD update, in place, as torch.optim.SGD (dampening 0, no Nesterov):
//   d = g + weight_decay * p;  buf = first step ? d : momentum * buf + d;  p = p - lr * buf.
//
// Runs over a flat range of an optimizer's arenas (parameters, gradients, momentum at one offset):
// one dispatch steps every parameter of the range (src/autograd/optim.ts).
// Tiling: one invocation per element (grid-stride over x); the hyper-parameters travel as uniforms,
// so a new learning rate every epoch compiles nothing.

import { f32bits, type Gpu, memoKernel } from '../gpu/context.js';
import type { SgdHyper } from '../reference/optim.js';
import { type View, view } from './view.js';

// Flat runs of the arenas: element i of the range at the view's offset + i.
const PARAM = view('param', [], ['I'], { unitStride: true });
const GRAD = view('grad', [], ['I'], { unitStride: true });
const BUF = view('buf', [], ['I'], { unitStride: true });

const build = (workgroup: number, momentum: boolean) => ({
  params: ['size', ...PARAM.params, ...GRAD.params, ...(momentum ? BUF.params : []), 'lr', 'momentum', 'weightDecay', 'firstStep'],
  wgsl: /* wgsl */ `
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read> grad: array<f32>;
${momentum ? '@group(0) @binding(3) var<storage, read_write> buf: array<f32>;' : ''}

${PARAM.wgsl}${GRAD.wgsl}${momentum ? BUF.wgsl : ''}
@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let lr = bitcast<f32>(P.lr);
  ${momentum ? 'let momentum = bitcast<f32>(P.momentum);' : ''}
  let weightDecay = bitcast<f32>(P.weightDecay);
  let params = paramBase();
  let grads = gradBase();${momentum ? '\n  let bufs = bufBase();' : ''}
  for (var i = gid.x; i < P.size; i += groups.x * ${workgroup}u) {
    let p = param[paramAt(params, i)];
    var d = grad[gradAt(grads, i)] + weightDecay * p;${
      momentum
        ? `
    if (P.firstStep == 0u) { d = buf[bufAt(bufs, i)] * momentum + d; }
    buf[bufAt(bufs, i)] = d;`
        : ''
    }
    param[paramAt(params, i)] = p - lr * d;
  }
}
`,
});

// Two names, so that profiles tell the momentum form apart.
const plain = memoKernel('sgd', (workgroup: number) => build(workgroup, false));
const withMomentum = memoKernel('sgd_momentum', (workgroup: number) => build(workgroup, true));

/** `momentum` is the momentum buffer, null when h.momentum is 0; every operand a flat run of `size` elements. */
export function sgdStep(gpu: Gpu, size: number, param: View, grad: View, momentum: View | null, h: SgdHyper): void {
  const workgroup = gpu.profile.updateWorkgroup;
  const groups = Math.min(Math.ceil(size / workgroup), gpu.maxGroups);
  const bindings = [param.binding, grad.binding];
  if (momentum) bindings.push(momentum.binding);
  gpu.run((momentum ? withMomentum : plain)(workgroup), bindings, [groups], {
    size,
    ...PARAM.values(param),
    ...GRAD.values(grad),
    ...(momentum ? BUF.values(momentum) : {}),
    lr: f32bits(h.lr),
    momentum: f32bits(h.momentum),
    weightDecay: f32bits(h.weightDecay),
    firstStep: h.firstStep ? 1 : 0,
  });
}
