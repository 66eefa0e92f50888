// Image file decoding: PNG, JPEG or BMP bytes (chosen by magic bytes, not the file name) -> 8-bit RGB,
// matching PIL's Image.open(f).convert('RGB') as used by torchvision's ImageFolder loader.
// Any failure becomes an ImageDecodeError naming the file. Reading the bytes from disk is Node's
// part (read_image.ts); this file serves the browser's Web Worker too.
import { decodeBmp } from './bmp.js';
import { ImageDecodeError, type RgbImage } from './image.js';
import { decodeJpeg } from './jpeg.js';
import { decodePng } from './png.js';

export { ImageDecodeError, type RgbImage };

const FORMATS: { name: string; magic: number[]; decode: (bytes: Uint8Array) => RgbImage }[] = [
  { name: 'PNG', magic: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], decode: decodePng },
  { name: 'JPEG', magic: [0xff, 0xd8, 0xff], decode: decodeJpeg },
  { name: 'BMP', magic: [0x42, 0x4d], decode: decodeBmp },
];

export function decodeImage(bytes: Uint8Array, file: string): RgbImage {
  const format = FORMATS.find((f) => f.magic.every((b, i) => bytes[i] === b));
  if (!format) throw new ImageDecodeError(file, 'not a PNG, JPEG or BMP file (unrecognised signature)');
  let img: RgbImage;
  try {
    img = format.decode(bytes);
  } catch (e) {
    throw new ImageDecodeError(file, `cannot decode ${format.name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (img.width <= 0 || img.height <= 0 || img.data.length !== img.width * img.height * 3) {
    throw new ImageDecodeError(file, `decoded ${format.name} has an invalid size ${img.width}x${img.height}`);
  }
  return img;
}
