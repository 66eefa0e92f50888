// `node`: what only Node has: ImageFolder datasets on disk, image files decoded (PNG, JPEG, BMP as
// PIL reads them), checkpoint files, and the training run behind `train` (worker threads, a run
// folder).

export { imageFolder, type ImageFolder, type Sample } from '../data/folder.js';
export { decodeImage } from '../data/decode.js';
export { loadWeightsFile, readCheckpointFile } from '../model/weights_file.js';
export { learningRate, train, type TrainConfig } from '../train/trainer.js';
