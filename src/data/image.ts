// Shared image types of the data pipeline: 8-bit RGB images and the decode error.
// Browser-safe: no Node APIs.

/** 8-bit RGB image, interleaved R,G,B, row-major, 3 * width * height bytes. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A file that cannot be decoded; the message names the file and what is wrong with it. */
export class ImageDecodeError extends Error {
  readonly file: string;

  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'ImageDecodeError';
    this.file = file;
  }
}

/** An all-black image of the given size. */
export function blankImage(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3) };
}
