// Image files in the browser: decoded by the browser itself (createImageBitmap), read back through a
// canvas into the engine's RgbImage (interleaved 8-bit RGB), as PIL's convert('RGB') gives it: no
// colour-space conversion, alpha dropped rather than composited.

import { ImageDecodeError, type RgbImage } from '../data/image.js';

export async function decodeImageBlob(blob: Blob, name: string): Promise<RgbImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new ImageDecodeError(name, 'the browser cannot decode this file as an image (is it a PNG, JPEG, BMP, GIF or WebP?)');
  }
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) throw new Error('decodeImageBlob: this browser gives no 2D canvas context');
  context.drawImage(bitmap, 0, 0);
  bitmap.close();
  const rgba = context.getImageData(0, 0, width, height).data;
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    data[i] = rgba[j];
    data[i + 1] = rgba[j + 1];
    data[i + 2] = rgba[j + 2];
  }
  return { width, height, data };
}
