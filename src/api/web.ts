// `web`: a page's helpers: a checkpoint fetched from a URL into a model, an image Blob or File
// decoded as `predict` decodes files, Grad-CAM, and a readable name for the adapter.

export { adapterName } from '../web/adapter_name.js';
export { decodeImageBlob } from '../web/decode_image.js';
export { gradCam, type GradCam, upsampleBilinear } from '../web/gradcam.js';
export { loadModel } from '../web/load_model.js';
