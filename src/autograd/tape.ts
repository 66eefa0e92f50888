// Reverse-mode automatic differentiation. Ops record a Node on their outputs while gradients are
// enabled and an input requires them; backward() orders the recorded nodes (the tape) from the
// scalar it starts at, runs each node's backward once with the gradients of all its outputs, adds up
// the gradients of tensors used more than once, accumulates into the .grad of leaves, and frees the
// graph and the intermediate gradients as it goes. A leaf an optimizer holds has a gradient slot in
// the optimizer's arena: ops ask gradientBuffer() where to write a leaf's gradient, and the first
// contribution of a pass lands in that slot directly (nothing to zero, nothing to copy).

import { keep, type Node, type Tensor } from './tensor.js';
import { empty, ones } from './ops/creation.js';
import { addInto, assign, copy, sum2 } from './ops/plain.js';

let gradEnabled = true;
/** The leaves whose gradient slot the running backward pass has handed out (null outside backward). */
let slotsHandedOut: Set<Tensor> | null = null;

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
 * Marks `outputs` as produced by `name` from `inputs`, with `backward` mapping the outputs' gradients
 * (null for an output that received none) to one gradient per input (null where an input needs
 * none). No-op when nothing needs a gradient.
 */
export function recordMany(name: string, inputs: Tensor[], outputs: Tensor[], backward: (grads: (Tensor | null)[]) => (Tensor | null)[]): Tensor[] {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    const node: Node = { name, inputs, outputs, backward };
    for (const o of outputs) {
      o.requiresGrad = true;
      o.node = node;
    }
  }
  return outputs;
}

/** recordMany for an op with one output. */
export function record(name: string, inputs: Tensor[], output: Tensor, backward: (grad: Tensor) => (Tensor | null)[]): Tensor {
  return recordMany(name, inputs, [output], ([g]) => backward(g!))[0];
}

/**
 * Where a backward function should write the gradient of `t`: the leaf's gradient slot when this is
 * its first contribution (no .grad yet, slot not handed out in this pass), else a new tensor.
 */
export function gradientBuffer(t: Tensor): Tensor {
  const slot = t.gradSlot;
  if (slot && t.requiresGrad && !t.grad && slotsHandedOut && !slotsHandedOut.has(t)) {
    slotsHandedOut.add(t);
    return slot.view(slot.shape, slot.strides);
  }
  return empty(t.shape, 'float32', t.backend);
}

/** The nodes reachable from `root`, each after every node that consumes its outputs. */
function nodesInOrder(root: Node): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>();
  // Iterative depth-first search: ShuffleNet graphs are deep enough to make recursion uncomfortable.
  const stack: [Node, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [node, expanded] = stack.pop()!;
    if (expanded) {
      order.push(node);
      continue;
    }
    if (seen.has(node)) continue;
    seen.add(node);
    stack.push([node, true]);
    for (const input of node.inputs) if (input.node && input.requiresGrad && !seen.has(input.node)) stack.push([input.node, false]);
  }
  return order.reverse();
}

/**
 * Back-propagates from `root` (a scalar unless `grad` is given) into the .grad of every leaf that
 * requires a gradient. Gradients add up over calls until zeroed.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not require a gradient (no input of its computation has requiresGrad)');
  if (!grad && root.size !== 1) throw new Error(`backward(): a gradient is needed for a non-scalar tensor of shape [${root.shape}]`);
  const seed = grad ?? ones(root.shape, root.backend);
  if (!root.node) {
    accumulateLeaf(root, seed, seed !== grad);
    return;
  }
  slotsHandedOut = new Set();
  try {
    backPropagate(root, seed, grad);
  } finally {
    slotsHandedOut = null;
  }
}

function backPropagate(root: Tensor, seed: Tensor, grad: Tensor | undefined): void {
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  for (const node of nodesInOrder(root.node!)) {
    const outputGrads = node.outputs.map((o) => grads.get(o) ?? null);
    node.outputs.forEach((o) => {
      grads.delete(o);
      o.node = null;
    });
    if (outputGrads.every((g) => g === null)) continue;
    for (const input of node.inputs) input.check(`backward through ${node.name}`);
    const inputGrads = noGrad(() => node.backward(outputGrads));
    node.inputs.forEach((input, j) => {
      const g = inputGrads[j];
      if (!g || !input.requiresGrad) return;
      const previous = grads.get(input);
      if (previous) {
        grads.set(input, sum2(previous, g));
        previous.dispose();
        g.dispose();
      } else grads.set(input, g);
    });
    // A node may hand an output's gradient (or a view of it) to an input: views hold their own
    // reference to the memory, and the same object is kept alive by the map.
    for (const g of outputGrads) if (g && g !== grad && !inputGrads.includes(g)) g.dispose();
  }
  // What is left are the leaves' gradients, complete now.
  const handedOver = new Set<Tensor>();
  for (const [leaf, g] of grads) accumulateLeaf(leaf, g, g !== grad, handedOver);
}

/**
 * Adds g into leaf.grad. The first gradient of a leaf with a gradient slot is its slot (written there
 * already, or copied in). Otherwise a gradient that nobody else holds (its own contiguous memory, not
 * handed to another leaf already) becomes the leaf's .grad as it is; anything else is copied.
 */
function accumulateLeaf(leaf: Tensor, g: Tensor, owned: boolean, handedOver = new Set<Tensor>()): void {
  if (leaf.grad) {
    addInto(leaf.grad, g);
    if (owned && !handedOver.has(g)) g.dispose();
    return;
  }
  const slot = leaf.gradSlot;
  if (slot) {
    if (g.storage !== slot.storage || g.offset !== slot.offset || !g.isContiguous()) assign(slot, g);
    leaf.grad = keep(slot.view(slot.shape, slot.strides));
    if (owned && !handedOver.has(g)) g.dispose();
    return;
  }
  const exclusive = owned && !handedOver.has(g) && g.offset === 0 && g.isContiguous() && g.storage.refs === 1 && g.size === g.storage.elements;
  leaf.grad = keep(exclusive ? g : copy(g));
  if (exclusive) handedOver.add(g);
  else if (owned && !handedOver.has(g)) g.dispose();
}
