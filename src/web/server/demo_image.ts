// The page's demo image (Node side of `serve`): the first validation image of the run when its
// folder still holds the data the run saw (the fingerprint in train_info.json, where the run has one)
// and the file decodes as an image; else a generated stand-in: a synthetic ultrasound-like picture
// (speckle over a depth gradient, a dark oval nodule with a bright rim and posterior enhancement).
// The caller passes no validation folder when the page is served beyond this machine: dataset images
// (patient images) are then never served.

import { basename, extname, resolve } from 'node:path';
import { decodeImage } from '../../data/decode.js';
import { readImageFile } from '../../data/read_image.js';
import { type DatasetFingerprint, datasetFingerprint, imageFolder } from '../../data/folder.js';
import { Rng } from '../../data/rng.js';
import { Canvas } from '../../util/raster/canvas.js';
import { encodePng } from '../../util/raster/png.js';

export interface DemoImage {
  name: string;
  /** Where it came from, for the start-up message. */
  source: string;
  contentType: string;
  bytes: Uint8Array;
}

/** Image formats every WebGPU browser decodes, with their content types. */
const BROWSER_IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.bmp': 'image/bmp',
  '.webp': 'image/webp',
};

/** The run's validation folder and, where train_info.json has it, the fingerprint of what the run saw there. */
export interface ValidationSource {
  dataVal: string;
  fingerprint: DatasetFingerprint | null;
}

/** The demo image; `why` says, when the generated image is used, why no validation image is. */
export function demoImage(validation: ValidationSource | null, why = 'no validation image found'): DemoImage {
  if (validation) {
    try {
      const folder = imageFolder(resolve(validation.dataVal), 'data_val');
      if (validation.fingerprint && datasetFingerprint(folder).sha256 !== validation.fingerprint.sha256) {
        why = `${validation.dataVal} no longer holds the validation data the run saw`;
      } else {
        const sample = folder.samples.find((s) => extname(s.file).toLowerCase() in BROWSER_IMAGE_TYPES);
        if (sample) {
          const bytes = readImageFile(sample.file);
          decodeImage(bytes, sample.file);
          return { name: basename(sample.file), source: sample.file, contentType: BROWSER_IMAGE_TYPES[extname(sample.file).toLowerCase()], bytes };
        }
      }
    } catch {
      // The validation folder moved or is gone since training, or its first image is unreadable: the generated image stands in.
    }
  }
  return { name: 'generated-demo.png', source: `generated (${why})`, contentType: 'image/png', bytes: generatedImage() };
}

function generatedImage(size = 320): Uint8Array {
  const canvas = new Canvas(size, size);
  const rng = new Rng(5);
  const [cx, cy, rx, ry] = [size * 0.5, size * 0.45, size * 0.2, size * 0.14];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const r = Math.hypot((x - cx) / rx, (y - cy) / ry);
      let level = 105 - (60 * y) / size;
      if (r < 1) level *= 0.3;
      else if (r < 1.12) level *= 1.9;
      else if (Math.abs(x - cx) < rx * 0.8 && y > cy) level *= 1.35;
      const v = Math.max(0, Math.min(255, Math.round(level * (0.45 + 1.1 * rng.next()))));
      canvas.data.set([v, v, v, 255], (y * size + x) * 4);
    }
  }
  return encodePng(canvas);
}
