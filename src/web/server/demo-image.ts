// The page's demo image (Node side of `serve`): the first validation image of the run when its
// folder can still be found, else a generated stand-in: a synthetic ultrasound-like picture
// (speckle over a depth gradient, a dark oval nodule with a bright rim and posterior enhancement).

import { readFileSync } from 'node:fs';
import { basename, extname, resolve } from 'node:path';
import { imageFolder } from '../../data/folder.js';
import { Rng } from '../../data/rng.js';
import { Canvas } from '../../train/plot/canvas.js';
import { encodePng } from '../../train/plot/png.js';

export interface DemoImage {
  name: string;
  /** Where it came from, for the start-up message. */
  source: string;
  contentType: string;
  bytes: Uint8Array;
}

/** Image formats every WebGPU browser decodes, with their content types. */
const BROWSER_IMAGE_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.bmp': 'image/bmp', '.webp': 'image/webp' };

export function demoImage(dataVal: string | null): DemoImage {
  if (dataVal) {
    try {
      const sample = imageFolder(resolve(dataVal), 'data_val').samples.find((s) => extname(s.file).toLowerCase() in BROWSER_IMAGE_TYPES);
      if (sample) return { name: basename(sample.file), source: sample.file, contentType: BROWSER_IMAGE_TYPES[extname(sample.file).toLowerCase()], bytes: readFileSync(sample.file) };
    } catch {
      // The validation folder moved or is gone since training: the generated image stands in.
    }
  }
  return { name: 'generated-demo.png', source: 'generated (no validation image found)', contentType: 'image/png', bytes: generatedImage() };
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
