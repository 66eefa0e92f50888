// PyTorch (.pth, zip and legacy formats) and safetensors checkpoints: reading, writing, conversion.
// Bytes in and out as Uint8Array; no Node APIs, so this runs unchanged in browsers.

export { toFloat32 } from './convert.js';
export { readPth } from './pth_read.js';
export { writePth } from './pth_write.js';
export { readCheckpoint } from './read_checkpoint.js';
export { readSafetensors, writeSafetensors, type SafetensorsContents } from './safetensors.js';
export { CheckpointError, type DType, type StateDict, type StoredTensor, type TensorData } from './types.js';
