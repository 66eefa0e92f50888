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

/**
 * The largest image the decoders accept: PIL's Image.MAX_IMAGE_PIXELS (89,478,485 pixels, about
 * 9459 x 9459). PIL only warns up to twice that and refuses beyond (DecompressionBombError); here
 * anything above the limit is refused, from the header, before any pixel is decoded, so that a small
 * file cannot claim gigabytes.
 */
export const MAX_IMAGE_PIXELS = 89_478_485;

/** Throws (for the decoder's ImageDecodeError) when a header's size is above MAX_IMAGE_PIXELS. */
export function checkPixelCount(width: number, height: number, format: string): void {
  if (width * height > MAX_IMAGE_PIXELS) {
    throw new Error(
      `${format} of ${width}x${height} = ${width * height} pixels is above the limit of ${MAX_IMAGE_PIXELS} pixels (PIL's MAX_IMAGE_PIXELS; a decompression bomb?)`,
    );
  }
}
