// Reads a checkpoint of any supported format, recognized from its bytes: zip .pth, legacy .pth or safetensors.

import { readPthUnnamed } from './pth_read.js';
import { parseSafetensors } from './safetensors.js';
import { detectFormat } from './sniff.js';
import { namedError, plainBytes, type StateDict } from './types.js';

/** The checkpoint's tensors; `name` (a file name) prefixes error messages. */
export async function readCheckpoint(bytes: Uint8Array, name = 'checkpoint'): Promise<StateDict> {
  bytes = plainBytes(bytes);
  try {
    return detectFormat(bytes) === 'safetensors' ? parseSafetensors(bytes).tensors : await readPthUnnamed(bytes);
  } catch (error) {
    throw namedError(name, error);
  }
}
