// What the convolution kernels share: the geometry of one convolution (with the strides of its
// input and output views, as kernel parameters) and the per-channel epilogue (scale, shift, ReLU)
// that lets evaluation-mode batch norm and activation ride along with the convolution's store.

import type { Binding } from '../gpu/context.js';
import { type View, view } from './view.js';

/** A convolution's input and output as the kernels address them: a row base per (n, c, h), then w along it. */
export const CONV_X = view('x', ['N', 'C', 'H'], ['W']);
export const CONV_Y = view('y', ['N', 'C', 'H'], ['W']);

/** The epilogue's per-channel vectors: contiguous runs from an element offset. */
const SCALE = view('scale', [], ['C'], { unitStride: true });
const SHIFT = view('shift', [], ['C'], { unitStride: true });

/** The epilogue's uniform parameters (its vectors' offsets), declared by every kernel that takes one. */
export const EPILOGUE_PARAMS = [...SCALE.params, ...SHIFT.params];

export interface ConvGeometry {
  N: number;
  C: number;
  H: number;
  W: number;
  K: number;
  OH: number;
  OW: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number];
  groups: number;
  /** The input and output (NCHW views; for the input gradients, x is dx and y is dy). */
  x: View;
  y: View;
}

/** What an epilogue's code depends on: which vectors it applies, and the ReLU (a variant's key). */
export interface EpilogueFlags {
  readonly scale?: unknown;
  readonly shift?: unknown;
  readonly relu: boolean;
}

export class EpilogueBindings {
  readonly bindings: Binding[] = [];
  readonly offsets = { scaleOff: 0, shiftOff: 0 };

  constructor(
    readonly scale?: View,
    readonly shift?: View,
    readonly relu = false,
  ) {
    if (scale) {
      this.bindings.push(scale.binding);
      Object.assign(this.offsets, SCALE.values(scale));
    }
    if (shift) {
      this.bindings.push(shift.binding);
      Object.assign(this.offsets, SHIFT.values(shift));
    }
  }

  /** The flags as a memoKernel key: scale, shift, relu. */
  get flags(): [boolean, boolean, boolean] {
    return [this.scale !== undefined, this.shift !== undefined, this.relu];
  }
}

/** Storage declarations of the scale and shift vectors from binding `first` on, with their accessors. */
export function epilogueDeclarations(epi: EpilogueFlags, first: number): string {
  const lines: string[] = [];
  if (epi.scale) lines.push(`@group(0) @binding(${first++}) var<storage, read> scale: array<f32>;`, SCALE.wgsl);
  if (epi.shift) lines.push(`@group(0) @binding(${first++}) var<storage, read> shift: array<f32>;`, SHIFT.wgsl);
  return lines.join('\n');
}

/** WGSL statements applying the epilogue to variable `acc` (of type `t`) of output channel `channel`. */
export function epilogueCode(epi: EpilogueFlags, acc: string, channel: string, t = 'f32'): string {
  const lines: string[] = [];
  if (epi.scale) lines.push(`${acc} = ${acc} * ${t}(scale[scaleAt(scaleBase(), ${channel})]);`);
  if (epi.shift) lines.push(`${acc} = ${acc} + ${t}(shift[shiftAt(shiftBase(), ${channel})]);`);
  if (epi.relu) lines.push(`${acc} = max(${acc}, ${t}(0.0));`);
  return lines.join('\n  ');
}

/** WGSL `let`s of channel `channel`'s scale and shift (channelScale${suffix}, channelShift${suffix}), read once for many outputs of it. */
export function channelEpilogueLoads(epi: EpilogueFlags, channel: string, suffix = ''): string {
  const lines: string[] = [];
  if (epi.scale) lines.push(`let channelScale${suffix} = scale[scaleAt(scaleBase(), ${channel})];`);
  if (epi.shift) lines.push(`let channelShift${suffix} = shift[shiftAt(shiftBase(), ${channel})];`);
  return lines.join('\n  ');
}

/** The epilogue on `acc` (of type `t`) from the `let`s of channelEpilogueLoads with the same suffix. */
export function channelEpilogue(epi: EpilogueFlags, acc: string, t = 'f32', suffix = ''): string {
  const lines: string[] = [];
  if (epi.scale) lines.push(`${acc} = ${acc} * channelScale${suffix};`);
  if (epi.shift) lines.push(`${acc} = ${acc} + channelShift${suffix};`);
  if (epi.relu) lines.push(`${acc} = max(${acc}, ${t}(0.0));`);
  return lines.join('\n  ');
}
