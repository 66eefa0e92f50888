// Reverse-mode automatic differentiation. Ops record a Node on their output while gradients are
// enabled and an input requires them; backward() orders the recorded graph (the tape) from the
// scalar it starts at, runs each node's backward once, accumulates gradients of inputs used more than
// once, adds into the .grad of leaves, and frees the graph and the intermediate gradients as it goes.

import { keep, type Node, Tensor } from './tensor.js';
// A cycle (those ops record onto this tape), harmless: neither side calls the other while loading.
import { ones } from './ops/creation.js';
import { add, addInto, copy } from './ops/elementwise.js';

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording anything for backward (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/**
 * Marks `output` as produced by `name` from `inputs`, with `backward` mapping the output's gradient to
 * one gradient per input (null where an input needs none). No-op when nothing needs a gradient.
 */
export function record(name: string, inputs: Tensor[], output: Tensor, backward: (grad: Tensor) => (Tensor | null)[]): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    output.requiresGrad = true;
    output.node = { name, inputs, backward };
  }
  return output;
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative depth-first search: ShuffleNet graphs are deep enough to make recursion uncomfortable.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    for (const input of t.node?.inputs ?? []) if (input.requiresGrad && !seen.has(input)) stack.push([input, false]);
  }
  return order;
}

/**
 * Back-propagates from `root` (a scalar unless `grad` is given) into the .grad of every leaf that
 * requires a gradient. Gradients add up over calls until zeroed.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not require a gradient (no input of its computation has requiresGrad)');
  if (!grad && root.size !== 1) throw new Error(`backward(): a gradient is needed for a non-scalar tensor of shape [${root.shape}]`);
  const grads = new Map<Tensor, Tensor>();
  grads.set(root, grad ?? ones(root.shape, root.backend));
  const order = topologicalOrder(root);
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    const g = grads.get(t);
    if (!g) continue;
    grads.delete(t);
    const node: Node | null = t.node;
    if (!node) {
      accumulateLeaf(t, g);
      continue;
    }
    for (const input of node.inputs) input.check(`backward through ${node.name}`);
    const inputGrads = noGrad(() => node.backward(g));
    node.inputs.forEach((input, j) => {
      const ig = inputGrads[j];
      if (!ig || !input.requiresGrad) return;
      const previous = grads.get(input);
      if (previous) {
        grads.set(input, add(previous, ig));
        if (previous !== g) previous.dispose();
        if (ig !== g) ig.dispose();
      } else grads.set(input, ig);
    });
    if (!inputGrads.includes(g) && g !== grad) g.dispose();
    t.node = null;
  }
}

function accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.grad) {
    addInto(leaf.grad, g);
    return;
  }
  // The leaf keeps its own copy: g may be a view of another tensor's gradient.
  leaf.grad = keep(copy(g));
}
