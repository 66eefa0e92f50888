// `models`: ShuffleNet V2 in torchvision's four widths, its parameter and FLOP counts, batched
// inference, state_dict in and out, checkpoints (.pth in both PyTorch formats, safetensors) as bytes,
// and ONNX export.

export { modelInfo, type ModelInfo } from '../model/info.js';
export { toOnnx } from '../model/onnx.js';
export { predictBatch, type Prediction } from '../model/predict.js';
export { isWidth, ShuffleNetV2, WIDTHS, type Width } from '../model/shufflenet.js';
export { loadStateDict, type LoadReport, stateDict, StateDictError } from '../model/state.js';
export { CheckpointError, readCheckpoint, readSafetensors, type StateDict, type StoredTensor, writePth, writeSafetensors } from '../model/checkpoint/index.js';
