// The engine as a browser module (bundled to dist/browser/engine.js): the tensors, autograd and ops,
// and everything a page needs to load a checkpoint into ShuffleNet V2 on the browser's WebGPU
// adapter, turn an image file into the network's input exactly as `predict` does, classify it and
// explain the prediction with Grad-CAM. Nothing here reaches Node APIs.

export * from '../autograd/index.js';
export { NoAdapterError, type AdapterDescription } from '../gpu/device.js';
export { ShuffleNetV2, WIDTHS, isWidth, type Width } from '../model/shufflenet.js';
export { CheckpointError, readCheckpoint, type StateDict } from '../model/checkpoint/index.js';
export { guessWidth, loadStateDict, StateDictError, type LoadReport } from '../model/state.js';
export { modelInfo, type ModelInfo } from '../model/info.js';
export { predictBatch, softmax, type Prediction } from '../model/predict.js';
export { evalTransform, IMAGENET_MEAN, IMAGENET_STD } from '../data/transforms.js';
export { ImageDecodeError, type RgbImage } from '../data/image.js';
export { adapterName } from './adapter_name.js';
export { decodeImageBlob } from './decode_image.js';
export { gradCam, type GradCam, upsampleBilinear } from './gradcam.js';
export { loadModel, modelFromBytes } from './load_model.js';
export { DatasetError, IMAGE_EXTENSIONS, type Sample } from '../data/dataset.js';
export { decodeImage } from '../data/decode.js';
export { stratifiedSplit } from '../data/split.js';
export { writePth } from '../model/checkpoint/index.js';
export { learningRate, runTraining, TrainingStopped, type EpochReport, type RunSink, type TrainConfig, type TrainingData } from '../train/core.js';
export { chosenFolder, folderData, type FolderFile } from './train/data.js';
export { runZip, trainFromFiles, type BrowserRun, type BrowserTrainOptions, type ProgressEvent } from './train/run.js';
export { DEFAULT_SETTINGS, parseSettings, SettingsError, type TrainSettings } from './train/settings.js';
