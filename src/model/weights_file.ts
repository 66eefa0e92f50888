// Reading a checkpoint file into a model (Node): the file's format is sniffed (.pth zip or legacy,
// safetensors), and problems come back as one clear message naming the file. Weights with NaN or
// infinite values are refused: they can only give NaN outputs (predict) or a NaN loss (train).

import { readRegularFile } from '../util/read_file.js';
import { readCheckpoint, type StateDict } from './checkpoint/index.js';
import type { ShuffleNetV2 } from './shufflenet.js';
import { checkFinite, type LoadReport, loadStateDictLogged } from './state.js';

/** The largest checkpoint read: far above x2_0's 30 MB, far below what would exhaust memory. */
export const MAX_WEIGHTS_BYTES = 1 << 30;

/** A checkpoint file's bytes: a regular file of at most MAX_WEIGHTS_BYTES (a FIFO would hang the read). */
export function readWeightsBytes(path: string): Uint8Array {
  try {
    return readRegularFile(path, MAX_WEIGHTS_BYTES, 'a weights file');
  } catch (e) {
    throw new Error(`cannot read the weights file ${path}: ${(e as Error).message}`);
  }
}

export async function readCheckpointFile(path: string): Promise<StateDict> {
  return readCheckpoint(readWeightsBytes(path), path);
}

/** Loads `path` into `model`; with `allowNewClassifier`, a class-count mismatch keeps a fresh fc (and says so). */
export async function loadWeightsFile(
  model: ShuffleNetV2,
  path: string,
  allowNewClassifier = false,
  log: (s: string) => void = console.error,
): Promise<LoadReport> {
  const state = await readCheckpointFile(path);
  checkFinite(state, path);
  return loadStateDictLogged(model, state, { allowNewClassifier, source: path }, log);
}
