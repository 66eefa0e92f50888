// Reading an image file from disk (Node): only a regular file of at most MAX_IMAGE_FILE_BYTES, opened
// without blocking (a FIFO or a device named .png is refused instead of hanging or being read without end).

import { readRegularFile } from '../util/read_file.js';
import { ImageDecodeError, MAX_IMAGE_PIXELS } from './image.js';

/** The largest image file read: the largest image the pixel limit allows, stored at 32 bits per pixel. */
export const MAX_IMAGE_FILE_BYTES = 4 * MAX_IMAGE_PIXELS + (1 << 20);

/** The bytes of an image file; anything but a regular file of at most MAX_IMAGE_FILE_BYTES is an ImageDecodeError. */
export function readImageFile(file: string): Uint8Array {
  try {
    return readRegularFile(file, MAX_IMAGE_FILE_BYTES, 'an image file');
  } catch (e) {
    throw new ImageDecodeError(file, (e as Error).message);
  }
}
