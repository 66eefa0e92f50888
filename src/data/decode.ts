// Image file decoding: PNG, JPEG or BMP bytes (chosen by magic bytes, not the file name) -> 8-bit RGB,
// matching PIL's Image.open(f).convert('RGB') as used by torchvision's ImageFolder loader.
// Any failure becomes an ImageDecodeError naming the file. Node-only because of the PNG path (pngjs)
// and readImageFile: only regular files, at most MAX_IMAGE_FILE_BYTES, opened without blocking (a FIFO
// or a device named .png is refused instead of hanging or being read without end).
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { decodeBmp } from './bmp.js';
import { ImageDecodeError, MAX_IMAGE_PIXELS, type RgbImage } from './image.js';
import { decodeJpeg } from './jpeg.js';
import { decodePng } from './png.js';

export { ImageDecodeError, type RgbImage };

/** The largest image file read: the largest image the pixel limit allows, stored at 32 bits per pixel. */
export const MAX_IMAGE_FILE_BYTES = 4 * MAX_IMAGE_PIXELS + (1 << 20);

const FS_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file (or a symbolic link to nothing)',
  EACCES: 'permission denied',
  ELOOP: 'a loop of symbolic links',
  EISDIR: 'a folder, not an image file',
};

/** One line for a failed file-system call. */
export function fsProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return (code && FS_PROBLEMS[code]) ?? (e as Error).message;
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a folder, not an image file';
  if (st.isFIFO()) return 'a named pipe (FIFO), not a regular file: only regular files are read';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device, not a regular file: only regular files are read';
  return 'not a regular file: only regular files are read';
}

/** The bytes of an image file; anything but a regular file of at most MAX_IMAGE_FILE_BYTES is an ImageDecodeError. */
export function readImageFile(file: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new ImageDecodeError(file, fsProblem(e));
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ImageDecodeError(file, fileKind(st));
    if (st.size > MAX_IMAGE_FILE_BYTES) throw new ImageDecodeError(file, `${st.size} bytes is more than the ${MAX_IMAGE_FILE_BYTES} bytes an image file may have`);
    const bytes = new Uint8Array(st.size);
    let length = 0;
    while (length < st.size) {
      const n = readSync(fd, bytes, length, st.size - length, length);
      if (n === 0) break;
      length += n;
    }
    return bytes.subarray(0, length);
  } catch (e) {
    throw e instanceof ImageDecodeError ? e : new ImageDecodeError(file, fsProblem(e));
  } finally {
    closeSync(fd);
  }
}

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
