// Image files in the browser, into the engine's RgbImage (interleaved 8-bit RGB) as `predict` gets
// them from PIL's convert('RGB'). JPEG and BMP go through the engine's own decoders (browser-safe),
// because a browser's JPEG decoder differs from PIL's by a few grey levels, enough to move the
// probabilities. PNG and the rest are decoded by the browser itself (createImageBitmap, read back
// through a canvas, without colour-space conversion): for opaque 8-bit PNG these are PIL's pixels
// exactly; where a PNG is partly transparent they may differ (a canvas keeps colours premultiplied
// by alpha, PIL drops alpha).

import { decodeBmp } from '../data/bmp.js';
import { ImageDecodeError, type RgbImage } from '../data/image.js';
import { decodeJpeg } from '../data/jpeg.js';

const ENGINE_DECODERS: { name: string; magic: number[]; decode: (bytes: Uint8Array) => RgbImage }[] = [
  { name: 'JPEG', magic: [0xff, 0xd8, 0xff], decode: decodeJpeg },
  { name: 'BMP', magic: [0x42, 0x4d], decode: decodeBmp },
];

export async function decodeImageBlob(blob: Blob, name: string): Promise<RgbImage> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  const format = ENGINE_DECODERS.find((f) => f.magic.every((b, i) => bytes[i] === b));
  if (!format) return decodeWithBrowser(blob, name);
  try {
    return format.decode(bytes);
  } catch (e) {
    throw new ImageDecodeError(name, `cannot decode ${format.name}: ${(e as Error).message}`);
  }
}

async function decodeWithBrowser(blob: Blob, name: string): Promise<RgbImage> {
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
