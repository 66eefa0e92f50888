// state_dict in and out: a model's parameters and buffers as the checkpoint module's StateDict
// (torchvision's names, shapes and order), and loading one back with errors that name the key, both
// shapes and, for ShuffleNet, the width the checkpoint was made for.

import type { StateDict, StoredTensor } from './checkpoint/index.js';
import { CheckpointError, toFloat32 } from './checkpoint/index.js';
import { Counter, type Module } from './module.js';
import { WIDTHS } from './shufflenet.js';

/** Reads every parameter and buffer of `model` to the CPU. */
export async function stateDict(model: Module): Promise<StateDict> {
  const sd: StateDict = new Map();
  for (const [name, entry] of model.namedState()) {
    if (entry instanceof Counter) sd.set(name, { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(entry.value)) });
    else sd.set(name, { dtype: 'float32', shape: [...entry.shape], data: Float32Array.from(await entry.data()) });
  }
  return sd;
}

export interface LoadReport {
  /** Keys the checkpoint lacks that were filled in (num_batches_tracked of pre-1.0 files). */
  filled: string[];
  /** Set when the classifier was left freshly initialised because the class counts differ. */
  freshClassifier: { checkpointClasses: number; modelClasses: number } | null;
}

export class StateDictError extends Error {
  override name = 'StateDictError';
}

/** The ShuffleNet V2 width whose stage-2 channels match this checkpoint, if any. */
export function guessWidth(sd: StateDict): string | null {
  const probe = sd.get('stage2.0.branch2.0.weight');
  if (!probe) return null;
  const stage2 = probe.shape[0] * 2;
  return Object.entries(WIDTHS).find(([, c]) => c[1] === stage2)?.[0] ?? null;
}

const shapeText = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Copies `sd` into `model`, strictly: every key must be present with its shape, and no key may be
 * left over. Two exceptions: a missing num_batches_tracked becomes 0, and with `allowNewClassifier`
 * an fc.* shape mismatch (ImageNet weights for another class count) keeps the model's fresh fc.
 */
export function loadStateDict(model: Module, sd: StateDict, options: { allowNewClassifier?: boolean; source?: string } = {}): LoadReport {
  const source = options.source ? `${options.source}: ` : '';
  const own = new Map(model.namedState());
  const missing = [...own.keys()].filter((k) => !sd.has(k) && !k.endsWith('num_batches_tracked'));
  const unexpected = [...sd.keys()].filter((k) => !own.has(k));
  const width = guessWidth(sd);
  const widthHint = width ? ` (the checkpoint looks like ShuffleNet V2 ${width})` : '';
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = [];
    if (missing.length)
      parts.push(
        `missing key${missing.length > 1 ? 's' : ''}: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? `, ... (${missing.length} in all)` : ''}`,
      );
    if (unexpected.length)
      parts.push(
        `unexpected key${unexpected.length > 1 ? 's' : ''}: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? `, ... (${unexpected.length} in all)` : ''}`,
      );
    throw new StateDictError(`${source}the checkpoint does not fit this model: ${parts.join('; ')}${widthHint}`);
  }
  const report: LoadReport = { filled: [], freshClassifier: null };
  const checkpointClasses = sd.get('fc.weight')?.shape[0];
  for (const [key, target] of own) {
    const entry = sd.get(key);
    if (target instanceof Counter) {
      if (entry) target.value = Number(toFloat32(entry)[0] ?? 0);
      else report.filled.push(key);
      continue;
    }
    if (!entry) continue;
    if (!sameShape(entry, target.shape)) {
      if (options.allowNewClassifier && key.startsWith('fc.') && sameShape(entry, target.shape, 0)) {
        report.freshClassifier = { checkpointClasses: checkpointClasses ?? entry.shape[0], modelClasses: target.shape[0] };
        continue;
      }
      throw new StateDictError(
        `${source}shape mismatch for ${key}: the checkpoint has ${shapeText(entry.shape)}, the model ${shapeText(target.shape)}${widthHint}`,
      );
    }
    target.backend.write(target, toFloat32(entry));
    target.version++;
  }
  return report;
}

/** Whether the stored shape equals `shape`, ignoring dimension `except`. */
function sameShape(entry: StoredTensor, shape: readonly number[], except = -1): boolean {
  return entry.shape.length === shape.length && entry.shape.every((n, d) => d === except || n === shape[d]);
}

/** loadStateDict, with what the load changed (a filled-in counter, a fresh classifier) said through `log`. */
export function loadStateDictLogged(
  model: Module,
  sd: StateDict,
  options: { allowNewClassifier: boolean; source: string },
  log: (line: string) => void,
): LoadReport {
  const report = loadStateDict(model, sd, options);
  if (report.filled.length > 0) log(`${options.source}: no num_batches_tracked in the file (saved by an old PyTorch); set to 0`);
  if (report.freshClassifier) {
    const { checkpointClasses, modelClasses } = report.freshClassifier;
    log(
      `${options.source}: its classifier has ${checkpointClasses} classes, the model ${modelClasses}: fc keeps fresh random weights, everything else is loaded`,
    );
  }
  return report;
}

/** Throws, naming the file and the first tensor, when a floating-point tensor holds NaN or an infinity. */
export function checkFinite(state: StateDict, source: string): void {
  const broken: string[] = [];
  for (const [name, t] of state) {
    if (!t.dtype.startsWith('float') && t.dtype !== 'bfloat16') continue;
    const values = toFloat32(t);
    let bad = 0;
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) bad++;
    if (bad > 0) broken.push(`${name} (${bad} of ${values.length})`);
  }
  if (broken.length > 0) {
    throw new CheckpointError(
      `${source}: ${broken.length} tensor${broken.length > 1 ? 's hold' : ' holds'} NaN or infinite values: ${broken.slice(0, 3).join(', ')}${broken.length > 3 ? ', ...' : ''}; these weights cannot give finite outputs: use another checkpoint (e.g. an earlier epoch's)`,
    );
  }
}
