// torchvision 0.14 image transforms on 8-bit RGB images (PIL semantics), plus tensor conversion.
// evalTransform is the predict/validation pipeline; trainTransform adds the random augmentation.
// Browser-safe: no Node APIs.
import { blankImage, type RgbImage } from './image.js';
import { resize } from './resize.js';
import type { Rng } from './rng.js';

export { resize };

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];

/** Crop box in pixels, as returned by torchvision's get_params (i, j, h, w). */
export interface CropBox {
  top: number;
  left: number;
  height: number;
  width: number;
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d !== 0.5) return d < 0.5 ? f : f + 1;
  return f % 2 === 0 ? f : f + 1;
}

/** torchvision F.resize(img, size) for an int size: shorter side -> size, longer -> int(size * long / short). */
export function resizeShorterSide(img: RgbImage, size: number): RgbImage {
  const { width: w, height: h } = img;
  const long = Math.trunc((size * Math.max(w, h)) / Math.min(w, h));
  return w <= h ? resize(img, size, long) : resize(img, long, size);
}

/** PIL Image.crop: the box may reach outside the image, where it is filled with zeros. */
export function crop(img: RgbImage, top: number, left: number, height: number, width: number): RgbImage {
  const out = blankImage(width, height);
  const x0 = Math.max(0, -left);
  const x1 = Math.min(width, img.width - left);
  if (x1 <= x0) return out;
  for (let y = Math.max(0, -top); y < Math.min(height, img.height - top); y++) {
    const src = ((y + top) * img.width + left + x0) * 3;
    out.data.set(img.data.subarray(src, src + (x1 - x0) * 3), (y * width + x0) * 3);
  }
  return out;
}

/** torchvision CenterCrop(size): zero-pad to at least size x size as torchvision does, then crop at round((dim - size) / 2). */
export function centerCrop(img: RgbImage, size: number): RgbImage {
  let src = img;
  if (size > img.width || size > img.height) {
    const padLeft = size > img.width ? (size - img.width) >> 1 : 0;
    const padTop = size > img.height ? (size - img.height) >> 1 : 0;
    const padRight = size > img.width ? (size - img.width + 1) >> 1 : 0;
    const padBottom = size > img.height ? (size - img.height + 1) >> 1 : 0;
    src = crop(img, -padTop, -padLeft, img.height + padTop + padBottom, img.width + padLeft + padRight);
    if (src.width === size && src.height === size) return src;
  }
  const top = roundHalfEven((src.height - size) / 2);
  const left = roundHalfEven((src.width - size) / 2);
  return crop(src, top, left, size, size);
}

export function hflip(img: RgbImage): RgbImage {
  const { width, height, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 3;
      const d = (y * width + width - 1 - x) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width, height, data: out };
}

/** ToTensor + Normalize: CHW float32 of ((x / 255) - mean) / std, each step rounded to float32 like torch. */
export function toTensorNormalized(img: RgbImage, mean = IMAGENET_MEAN, std = IMAGENET_STD): Float32Array {
  const plane = img.width * img.height;
  const out = new Float32Array(3 * plane);
  const lut = new Float32Array(256);
  for (let c = 0; c < 3; c++) {
    const m = Math.fround(mean[c]);
    const s = Math.fround(std[c]);
    for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(v / 255) - m) / s;
    for (let i = 0; i < plane; i++) out[c * plane + i] = lut[img.data[i * 3 + c]];
  }
  return out;
}

/** Resize(floor(imgSize * 256 / 224)) -> CenterCrop(imgSize) -> ToTensor -> Normalize(ImageNet). */
export function evalTransform(img: RgbImage, imgSize: number): Float32Array {
  const resized = resizeShorterSide(img, Math.floor((imgSize * 256) / 224));
  return toTensorNormalized(centerCrop(resized, imgSize));
}

/** torchvision RandomResizedCrop.get_params with our Rng: 10 tries, then a centre crop clamped to the ratio range. */
export function randomResizedCropBox(
  width: number,
  height: number,
  rng: Rng,
  scale: [number, number] = [0.08, 1],
  ratio: [number, number] = [3 / 4, 4 / 3],
): CropBox {
  const area = width * height;
  const logRatio = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logRatio[0], logRatio[1]));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      const top = rng.int(height - h + 1);
      const left = rng.int(width - w + 1);
      return { top, left, height: h, width: w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(...ratio)) {
    h = roundHalfEven(w / Math.min(...ratio));
  } else if (inRatio > Math.max(...ratio)) {
    w = roundHalfEven(h * Math.max(...ratio));
  }
  return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
}

/** RandomResizedCrop(size): a random box (randomResizedCropBox) resized to size x size with PIL bilinear. */
export function randomResizedCrop(
  img: RgbImage,
  size: number,
  rng: Rng,
  scale: [number, number] = [0.08, 1],
  ratio: [number, number] = [3 / 4, 4 / 3],
): RgbImage {
  const box = randomResizedCropBox(img.width, img.height, rng, scale, ratio);
  return resize(crop(img, box.top, box.left, box.height, box.width), size, size);
}

/** RandomResizedCrop(imgSize) -> RandomHorizontalFlip(0.5) -> ToTensor -> Normalize(ImageNet). */
export function trainTransform(img: RgbImage, imgSize: number, rng: Rng): Float32Array {
  const cropped = randomResizedCrop(img, imgSize, rng);
  return toTensorNormalized(rng.next() < 0.5 ? hflip(cropped) : cropped);
}
