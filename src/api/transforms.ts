// `transforms`: torchvision's evaluation transform (resize, centre crop, normalise: what `predict`
// does) and training transform (RandomResizedCrop + horizontal flip), on decoded RGB images.

export { Rng } from '../data/rng.js';
export { centerCrop, evalTransform, hflip, IMAGENET_MEAN, IMAGENET_STD, resizeShorterSide, toTensorNormalized, trainTransform } from '../data/transforms.js';
export { ImageDecodeError, type RgbImage } from '../data/image.js';
