// What the convolution kernels share: the geometry of one convolution (with the strides of its
// input and output views, as kernel parameters) and the per-channel epilogue (scale, shift, ReLU)
// that lets evaluation-mode batch norm and activation ride along with the convolution's store.

import type { Binding } from '../gpu/context.js';

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
  /** Offset and strides of the input view (xOff, xN, xC, xH, xW) and output view (yOff, ...). */
  xStrides: Record<'xOff' | 'xN' | 'xC' | 'xH' | 'xW', number>;
  yStrides: Record<'yOff' | 'yN' | 'yC' | 'yH' | 'yW', number>;
}

export interface ChannelVector {
  binding: Binding;
  off: number;
}

export class EpilogueBindings {
  readonly bindings: Binding[] = [];
  readonly offsets = { scaleOff: 0, shiftOff: 0 };

  constructor(
    readonly scale?: ChannelVector,
    readonly shift?: ChannelVector,
    readonly relu = false,
  ) {
    if (scale) {
      this.bindings.push(scale.binding);
      this.offsets.scaleOff = scale.off;
    }
    if (shift) {
      this.bindings.push(shift.binding);
      this.offsets.shiftOff = shift.off;
    }
  }

  /** Storage declarations of the scale and shift vectors from binding `first` on. */
  declarations(first: number): string {
    const lines: string[] = [];
    if (this.scale) lines.push(`@group(0) @binding(${first++}) var<storage, read> scale: array<f32>;`);
    if (this.shift) lines.push(`@group(0) @binding(${first++}) var<storage, read> shift: array<f32>;`);
    return lines.join('\n');
  }
}

/** WGSL statements applying the epilogue to variable `acc` (of type `t`) of output channel `channel`. */
export function epilogueCode(epi: EpilogueBindings, acc: string, channel: string, t = 'f32'): string {
  const lines: string[] = [];
  if (epi.scale) lines.push(`${acc} = ${acc} * ${t}(scale[P.scaleOff + ${channel}]);`);
  if (epi.shift) lines.push(`${acc} = ${acc} + ${t}(shift[P.shiftOff + ${channel}]);`);
  if (epi.relu) lines.push(`${acc} = max(${acc}, ${t}(0.0));`);
  return lines.join('\n  ');
}
