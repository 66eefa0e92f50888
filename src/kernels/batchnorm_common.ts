// What the batch-norm kernels (statistics + affine, backward) share: the views they take, how a
// channel's N*H*W values are split over invocations, and the WGSL walk over a channel's positions.
//
// A channel is either one workgroup's (invocation lid takes plane positions lid, lid + WG, ... of
// every image; a workgroup sum combines them) or, on a software adapter where a plane is short, one
// invocation's per slice of images (plain loops, no workgroup memory and no barrier: there a barrier
// costs more than summing a few thousand values). A slice holds as many images as serialBatchNormUpTo
// values allow; with several slices, a first dispatch writes each slice's partial sums and a second
// adds them up and goes on.

import type { Gpu, Kernel, Params } from '../gpu/context.js';
import { type View, type ViewAccessor, view } from './view.js';
import { blockSum } from './workgroup_reduce.js';

/** An NCHW operand whose H and W merge into one plane dimension S: `xBase(n, c)` per plane, `xAt(plane, s)` per element. */
export const planeOperand = (name: string): ViewAccessor => view(name, ['N', 'C'], ['S']);

/** A vector of one number per channel (weight, bias, running statistics, their gradients). */
export const channelOperand = (name: string): ViewAccessor => view(name, [], ['C']);

/** Rows of one number per channel ([rows, C]: the statistics, the input gradient's coefficients). */
export const channelRowsOperand = (name: string): ViewAccessor => view(name, ['Row'], ['C']);

/** The partial sums of the slices ([slices, C, terms], a scratch buffer of the two-dispatch form). */
export const PARTIAL = view('partial', ['Slice', 'C'], ['Term']);

/** WGSL: the element of channel c of a channelOperand, or of row `row` of a channelRowsOperand. */
export function channelAt(name: string, row?: string): string {
  return `${name}[${name}At(${name}Base(${row ?? ''}), c)]`;
}

/** How a kernel walks a channel: one invocation per channel and slice of images (serial), or a workgroup per channel. */
export interface ChannelWalk {
  serial: boolean;
  workgroup: number;
}

export interface ChannelSplit extends ChannelWalk {
  /** Serial: the images of a channel in slices; with more than one, the sums take two dispatches (partial sums per slice, then the totals). */
  slices: number;
  imagesPerSlice: number;
}

/** What the kernels do: all of it, or (serial, several slices) the partial sums, then the rest from them. */
export type Phase = 'whole' | 'partial' | 'finish';

export function channelSplit(gpu: Gpu, N: number, HW: number): ChannelSplit {
  const most = gpu.profile.serialBatchNormUpTo;
  if (HW > most) return { serial: false, workgroup: gpu.profile.reductionWorkgroup, slices: 1, imagesPerSlice: N };
  const slices = Math.ceil(N / Math.floor(most / HW));
  return { serial: true, workgroup: gpu.profile.serialChannelWorkgroup, slices, imagesPerSlice: Math.ceil(N / slices) };
}

/** Workgroups of a dispatch over C channels. */
export function channelGroups(split: ChannelSplit, C: number): number {
  return split.serial ? Math.ceil((C * split.slices) / split.workgroup) : C;
}

/** The kernel's entry point, with `c` the channel and images [firstImage, lastImage) this invocation's; `body` runs in uniform control flow per workgroup. */
export function channelMain(walk: ChannelWalk, body: string): string {
  const which = walk.serial
    ? 'let item = gid.x;\n  if (item >= P.C * P.slices) { return; }\n  let c = item % P.C;\n  let slice = item / P.C;'
    : 'let c = wg.x;\n  let slice = 0u;';
  return /* wgsl */ `@compute @workgroup_size(${walk.workgroup})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(global_invocation_id) gid: vec3u) {
  ${which}
  let firstImage = slice * P.imagesPerSlice;
  let lastImage = min(firstImage + P.imagesPerSlice, P.N);
  ${body}
}`;
}

/** WGSL of each plane operand's base for image n, channel c. */
const planeBases = (views: string[]) => views.map((v) => `let ${v}Plane = ${v}Base(n, c);`);

/** WGSL of each plane operand's element index `<v>I` at position s. */
const elementIndices = (views: string[]) => views.map((v) => `let ${v}I = ${v}At(${v}Plane, s);`);

/**
 * The walk over this invocation's positions of channel c: for each plane operand v in `views`,
 * `vI` is the element's index inside `body`.
 */
export function channelPositions(walk: ChannelWalk, views: string[], body: string): string {
  const [start, step] = walk.serial ? ['0u', '1u'] : ['lid', `${walk.workgroup}u`];
  return /* wgsl */ `for (var n = firstImage; n < lastImage; n++) {
    ${planeBases(views).join('\n    ')}
    for (var s = ${start}; s < P.HW; s += ${step}) {
      ${elementIndices(views).join('\n      ')}
      ${body}
    }
  }`;
}

/** Positions a serial walk adds in a row (a block) before the block's sum joins the pairwise cascade. */
const SUM_BLOCK = 8;

/** Levels of the cascade: level k holds a sum of 2^k blocks; the top level takes whatever reaches it in turn. */
const SUM_LEVELS = 12;

/**
 * WGSL adding the carry (`<name>Carry`, a sum of 2^level blocks) into the cascade at `level`: a
 * binary counter over the blocks so far (`blocks`), whose set bits are the occupied levels. An empty
 * level takes the carry; a full one adds into it and passes the pair's sum up.
 */
function cascade(blocks: string, names: string[], level: number): string {
  if (level === SUM_LEVELS - 1) return names.map((n) => `${n}Level${level} += ${n}Carry;`).join(' ');
  return `if ((${blocks} & ${2 ** level}u) == 0u) { ${names.map((n) => `${n}Level${level} = ${n}Carry;`).join(' ')} }
        else { ${names.map((n) => `${n}Carry = ${n}Level${level} + ${n}Carry;`).join(' ')}
        ${cascade(blocks, names, level + 1)} }`;
}

/** WGSL of the cascade's total: the occupied levels, smallest first. */
function cascadeTotal(blocks: string, name: string): string {
  const level = (k: number) => `select(0.0, ${name}Level${k}, (${blocks} & ${2 ** k}u) != 0u)`;
  let total = level(0);
  for (let k = 1; k < SUM_LEVELS - 1; k++) total = `${level(k)} + (${total})`;
  return `${name}Level${SUM_LEVELS - 1} + (${total})`;
}

/**
 * WGSL declaring `<name>` for each term, term.add summed over this invocation's positions of channel
 * c (`pre` first at each). A workgroup's invocations add their positions in turn and then combine in a
 * tree; a serial walk adds blocks of SUM_BLOCK positions and combines the blocks pairwise (a binary
 * cascade over named registers, as a tree would), so that the rounding error grows with the block
 * and the logarithm of the channel's length, not with the length: a sum over a whole channel in one
 * running total (or in blocks of 64) lost enough digits of a mean to move a whole-model gradient past
 * its tolerance.
 */
export function channelSums(walk: ChannelWalk, views: string[], pre: string, terms: { name: string; add: (acc: string) => string }[]): string {
  if (!walk.serial) {
    const declarations = terms.map((t) => `var ${t.name} = 0.0;`).join('\n  ');
    return `${declarations}\n  ${channelPositions(walk, views, `${pre}\n      ${terms.map((t) => t.add(t.name)).join('\n      ')}`)}`;
  }
  const levels = terms.flatMap((t) => Array.from({ length: SUM_LEVELS }, (_, k) => `var ${t.name}Level${k} = 0.0;`));
  const names = terms.map((t) => t.name);
  // The block counter, named for the first term: a kernel may sum twice.
  const blocks = `${names[0]}Blocks`;
  return /* wgsl */ `var ${blocks} = 0u;
  ${levels.join('\n  ')}
  for (var n = firstImage; n < lastImage; n++) {
    ${planeBases(views).join('\n    ')}
    for (var s0 = 0u; s0 < P.HW; s0 += ${SUM_BLOCK}u) {
      ${terms.map((t) => `var ${t.name}Carry = 0.0;`).join('\n      ')}
      for (var s = s0; s < min(s0 + ${SUM_BLOCK}u, P.HW); s++) {
        ${elementIndices(views).join('\n        ')}
        ${pre}
        ${terms.map((t) => t.add(`${t.name}Carry`)).join('\n        ')}
      }
      ${cascade(blocks, names, 0)}
      ${blocks}++;
    }
  }
  ${terms.map((t) => `let ${t.name} = ${cascadeTotal(blocks, t.name)};`).join('\n  ')}`;
}

/** Declarations for channelTotals (workgroup memory and the tree sum), empty when serial. */
export function channelSumDeclarations(walk: ChannelWalk, count: number): string {
  return walk.serial ? '' : blockSum('workgroupSum', walk.workgroup, count, false);
}

/**
 * WGSL `let <name> = array<f32, n>(...)`: the channel's totals of the invocations' `values`, in every
 * invocation; in the finish phase, of the partial sums of every slice (operand PARTIAL).
 */
export function channelTotals(walk: ChannelWalk, phase: Phase, name: string, values: string[]): string {
  const n = values.length;
  if (phase === 'finish')
    return `${values.map((_, k) => `var ${name}${k} = 0.0;`).join('\n  ')}
  for (var part = 0u; part < P.slices; part++) {
    let partSums = partialBase(part, c);
    ${values.map((_, k) => `${name}${k} += partial[partialAt(partSums, ${k}u)];`).join('\n    ')}
  }
  let ${name} = array<f32, ${n}>(${values.map((_, k) => `${name}${k}`).join(', ')});`;
  const own = `array<f32, ${n}>(${values.join(', ')})`;
  return walk.serial ? `let ${name} = ${own};` : `let ${name} = workgroupSum(lid, ${own});`;
}

/** WGSL storing this invocation's `values` as its slice's partial sums. */
export function storePartials(values: string[]): string {
  return `let partSums = partialBase(slice, c);\n  ${values.map((v, k) => `partial[partialAt(partSums, ${k}u)] = ${v};`).join('\n  ')}`;
}

/** The partial sums' scratch view: [slices, C, terms] contiguous. */
export function partialView(buffer: GPUBuffer, C: number, terms: number): View {
  return { binding: { buffer }, offset: 0, strides: [C * terms, terms, 1] };
}

/** Whether this invocation writes the channel's numbers (the first slice's, or the workgroup's first). */
export function channelLeader(walk: ChannelWalk): string {
  return walk.serial ? 'slice == 0u' : 'lid == 0u';
}

export const SPLIT_PARAMS = ['slices', 'imagesPerSlice'];

export function splitValues(split: ChannelSplit): Params {
  return { slices: split.slices, imagesPerSlice: split.imagesPerSlice };
}

/** Of the values every phase shares, those `kernel` declares (the partial phase reads fewer). */
export function phaseValues(kernel: Kernel, values: Params): Params {
  return Object.fromEntries(kernel.params.map((name) => [name, values[name]]));
}

/** The phases a split runs, in order. */
export function phases(split: ChannelSplit): Phase[] {
  return split.slices > 1 ? ['partial', 'finish'] : ['whole'];
}
