// Image decoding and transforms against Pillow 9.4 / torchvision 0.14 references
// (test/fixtures/images, made by scripts/fixtures/make_image_fixtures.py) and the real datasets.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeImage, ImageDecodeError, type RgbImage } from '../src/data/decode.js';
import { Rng } from '../src/data/rng.js';
import {
  centerCrop,
  crop,
  evalTransform,
  hflip,
  randomResizedCrop,
  randomResizedCropBox,
  resize,
  resizeShorterSide,
  roundHalfEven,
  toTensorNormalized,
  trainTransform,
} from '../src/data/transforms.js';

interface Ref {
  offset: number;
  length: number;
}
interface TensorRef {
  imgSize: number;
  sha256: string;
  sample: Ref;
  tensor?: Ref;
}
interface Index {
  samples: number;
  /** maxDiff / meanDiff: allowed absolute difference from PIL per byte (0 for PNG and BMP). */
  decode: { file: string; pilMode: string; width: number; height: number; maxDiff: number; meanDiff: number; rgb: Ref }[];
  corrupt: { file: string; pil: string }[];
  resize: { source: string; width: number; height: number; rgb: Ref }[];
  resizeShorterSide: { source: string; size: number; width: number; height: number; rgb: Ref }[];
  centerCrop: { source: string; size: number; rgb: Ref }[];
  resizedCrop: { source: string; top: number; left: number; height: number; width: number; size: number; rgb: Ref }[];
  evalTransform: (TensorRef & { source: string; exact: boolean })[];
  datasets: {
    path: string;
    exact: boolean;
    width: number;
    height: number;
    sha256: string;
    sample: Ref;
    mean: number[];
    resizeShorterSide73?: string;
    evalTransform?: TensorRef[];
  }[];
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(root, 'test/fixtures/images');
const index = JSON.parse(readFileSync(join(fixtures, 'index.json'), 'utf8')) as Index;
const u8 = new Uint8Array(readFileSync(join(fixtures, 'expected.u8.bin')));
const f32 = new Float32Array(new Uint8Array(readFileSync(join(fixtures, 'expected.f32.bin'))).buffer);
const datasets = join(root, '../shared/datasets');

/** Colour JPEG vs PIL: jpeg-js's IDCT against libjpeg-turbo's (upsampling and colour conversion are exact). */
const JPEG_MAX_DIFF = 4;
const JPEG_MEAN_DIFF = 0.25;

const bytesU8 = (r: Ref) => u8.subarray(r.offset, r.offset + r.length);
const valuesF32 = (r: Ref) => f32.subarray(r.offset, r.offset + r.length);
const load = (file: string) => decodeImage(new Uint8Array(readFileSync(join(fixtures, file))), file);
const loadPath = (path: string) => decodeImage(new Uint8Array(readFileSync(join(root, path))), path);
const sha256 = (a: Uint8Array | Float32Array) =>
  createHash('sha256')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

/** Values at flat indices floor(k * length / samples), k < samples, as the fixture script takes them. */
function pick(a: ArrayLike<number>): number[] {
  return Array.from({ length: index.samples }, (_, k) => a[Math.floor((k * a.length) / index.samples)]);
}

function diffStats(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; mean: number; first: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  let first = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > 0 && first < 0) first = i;
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length, first };
}

function expectSameImage(img: RgbImage, width: number, height: number, expected: Uint8Array, what: string): void {
  expect([img.width, img.height], what).toEqual([width, height]);
  const { max, first } = diffStats(img.data, expected);
  expect(max, `${what}: first difference at byte ${first}`).toBe(0);
}

describe('decodeImage against PIL convert("RGB")', () => {
  for (const e of index.decode) {
    it(`${e.file} (PIL mode ${e.pilMode})`, () => {
      const img = load(e.file);
      if (e.maxDiff === 0) {
        expectSameImage(img, e.width, e.height, bytesU8(e.rgb), e.file);
      } else {
        expect([img.width, img.height]).toEqual([e.width, e.height]);
        const { max, mean } = diffStats(img.data, bytesU8(e.rgb));
        expect(max).toBeLessThanOrEqual(e.maxDiff);
        expect(mean).toBeLessThanOrEqual(e.meanDiff);
      }
    });
  }

  for (const e of index.corrupt) {
    it(`${e.file} throws ImageDecodeError naming the file (PIL: ${e.pil})`, () => {
      expect(() => load(e.file)).toThrow(ImageDecodeError);
      expect(() => load(e.file)).toThrow(e.file);
    });
  }

  it('says what is unsupported', () => {
    expect(() => load('files/unsupported_bmp_jpeg.bmp')).toThrow(/unsupported BMP compression BI_JPEG/);
    expect(() => load('files/unsupported_bmp_2bit.bmp')).toThrow(/unsupported BMP pixel depth 2/);
    expect(() => decodeImage(new Uint8Array(0), 'empty.png')).toThrow(/empty\.png: not a PNG, JPEG or BMP/);
  });
});

describe('transforms against PIL / torchvision', () => {
  it('resize matches PIL BILINEAR exactly (down, up, one side unchanged)', () => {
    for (const e of index.resize) {
      expectSameImage(resize(load(e.source), e.width, e.height), e.width, e.height, bytesU8(e.rgb), `${e.source} -> ${e.width}x${e.height}`);
    }
  });

  it('resizeShorterSide matches torchvision F.resize(img, int)', () => {
    for (const e of index.resizeShorterSide) {
      expectSameImage(resizeShorterSide(load(e.source), e.size), e.width, e.height, bytesU8(e.rgb), `${e.source} @ ${e.size}`);
    }
  });

  it('centerCrop matches torchvision CenterCrop, including half-pixel offsets and padding', () => {
    for (const e of index.centerCrop) {
      expectSameImage(centerCrop(load(e.source), e.size), e.size, e.size, bytesU8(e.rgb), `${e.source} crop ${e.size}`);
    }
  });

  it('crop + resize matches torchvision F.resized_crop', () => {
    for (const e of index.resizedCrop) {
      const out = resize(crop(load(e.source), e.top, e.left, e.height, e.width), e.size, e.size);
      expectSameImage(out, e.size, e.size, bytesU8(e.rgb), `${e.source} box ${e.top},${e.left},${e.height},${e.width}`);
    }
  });

  it('evalTransform matches torchvision (bit-exact for PNG/BMP, JPEG within its decode tolerance)', () => {
    for (const e of index.evalTransform) {
      const t = evalTransform(load(e.source), e.imgSize);
      expect(t.length, e.source).toBe(3 * e.imgSize * e.imgSize);
      if (e.exact) {
        expect(diffStats(pick(t), valuesF32(e.sample)).max, `${e.source} @ ${e.imgSize}`).toBeLessThanOrEqual(1e-6);
        expect(sha256(t), `${e.source} @ ${e.imgSize}`).toBe(e.sha256);
      } else if (e.tensor) {
        const { max, mean } = diffStats(t, valuesF32(e.tensor));
        expect(max).toBeLessThanOrEqual(JPEG_MAX_DIFF / 255 / 0.224);
        expect(mean).toBeLessThanOrEqual(JPEG_MEAN_DIFF / 255 / 0.224);
      }
    }
  });

  it('toTensorNormalized is CHW float32 of (x / 255 - mean) / std', () => {
    const img: RgbImage = { width: 2, height: 1, data: Uint8Array.of(0, 128, 255, 10, 20, 30) };
    const t = toTensorNormalized(img, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]);
    const expected = [0, 10, 128, 20, 255, 30].map((v) => Math.fround(Math.fround(Math.fround(v / 255) - 0.5) / 0.5));
    expect(Array.from(t)).toEqual(expected);
  });

  it('roundHalfEven is Python round()', () => {
    expect([0.5, 1.5, 2.5, -1.5, 2.4999, 2.5001, 3].map(roundHalfEven)).toEqual([0, 2, 2, -2, 2, 3, 3]);
  });

  it('crop fills outside the image with zeros; hflip mirrors rows', () => {
    const img: RgbImage = { width: 2, height: 1, data: Uint8Array.of(1, 2, 3, 4, 5, 6) };
    expect(Array.from(crop(img, -1, 1, 2, 2).data)).toEqual([0, 0, 0, 0, 0, 0, 4, 5, 6, 0, 0, 0]);
    expect(Array.from(hflip(img).data)).toEqual([4, 5, 6, 1, 2, 3]);
  });
});

describe('randomResizedCrop', () => {
  const img = load('files/png_rgb.png');

  it('gives size x size images, the same for the same seed', () => {
    const a = randomResizedCrop(img, 24, new Rng(7));
    const b = randomResizedCrop(img, 24, new Rng(7));
    expect([a.width, a.height]).toEqual([24, 24]);
    expect(a.data).toEqual(b.data);
    const boxes = (seed: number) => {
      const rng = new Rng(seed);
      return Array.from({ length: 5 }, () => randomResizedCropBox(300, 200, rng));
    };
    expect(boxes(1)).toEqual(boxes(1));
    expect(boxes(1)).not.toEqual(boxes(2));
  });

  it('draws boxes inside the image with scale in [0.08, 1] and aspect ratio in [3/4, 4/3]', () => {
    const rng = new Rng(123);
    const [W, H] = [300, 200];
    const scales: number[] = [];
    const ratios: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const b = randomResizedCropBox(W, H, rng);
      expect(b.top >= 0 && b.left >= 0 && b.top + b.height <= H && b.left + b.width <= W).toBe(true);
      scales.push((b.width * b.height) / (W * H));
      ratios.push(b.width / b.height);
    }
    // w and h are rounded to whole pixels, hence the small slack.
    expect(Math.min(...scales)).toBeGreaterThanOrEqual(0.08 * 0.97);
    expect(Math.max(...scales)).toBeLessThanOrEqual(1);
    expect(Math.min(...ratios)).toBeGreaterThanOrEqual(0.75 * 0.98);
    expect(Math.max(...ratios)).toBeLessThanOrEqual((4 / 3) * 1.02);
    expect(Math.min(...scales)).toBeLessThan(0.12);
    expect(Math.max(...scales)).toBeGreaterThan(0.85); // 0.89 is the most a 4:3 box can cover of 3:2
    expect(Math.min(...ratios)).toBeLessThan(0.78);
    expect(Math.max(...ratios)).toBeGreaterThan(1.28);
  });

  it('falls back to a centre crop clamped to the ratio range', () => {
    const rng = new Rng(5);
    expect(randomResizedCropBox(100, 10, rng, [0.9, 1])).toEqual({ top: 0, left: 43, height: 10, width: 13 });
    expect(randomResizedCropBox(10, 100, rng, [0.9, 1])).toEqual({ top: 43, left: 0, height: 13, width: 10 });
    expect(randomResizedCropBox(50, 40, rng, [1.5, 2])).toEqual({ top: 0, left: 0, height: 40, width: 50 });
  });

  it('trainTransform is deterministic per seed and sized 3 x imgSize^2', () => {
    const a = trainTransform(img, 16, new Rng(3));
    expect(a.length).toBe(3 * 16 * 16);
    expect(a).toEqual(trainTransform(img, 16, new Rng(3)));
  });
});

describe('Rng', () => {
  it('is xoshiro128** (reference outputs for state 1, 2, 3, 4)', () => {
    const rng = Rng.fromState([1, 2, 3, 4]);
    expect([rng.next(), rng.next(), rng.next()].map((x) => x * 2 ** 32)).toEqual([11520, 0, 5927040]);
  });

  it('is reproducible, restorable and in range', () => {
    const a = new Rng(42);
    const first = [a.next(), a.next(), a.next()];
    expect([new Rng(42).next(), new Rng(43).next()]).not.toEqual([first[0], first[0]]);
    const saved = a.state();
    const restored = Rng.fromState(saved);
    expect([restored.next(), restored.int(10), restored.uniform(2, 3)]).toEqual([a.next(), a.int(10), a.uniform(2, 3)]);
    for (let i = 0; i < 1000; i++) {
      const x = a.next();
      expect(x >= 0 && x < 1).toBe(true);
      const k = a.int(7);
      expect(Number.isInteger(k) && k >= 0 && k < 7).toBe(true);
    }
    expect(a.shuffle([...Array(50).keys()]).sort((x, y) => x - y)).toEqual([...Array(50).keys()]);
  });
});

describe('real datasets in ../shared/datasets', () => {
  it('../shared/datasets is in place (nothing here is skipped without it)', () => {
    expect(existsSync(datasets), `${datasets} is missing: put the shared datasets (ddti, udtn-sample, bupt-bmp; see their README.md) beside the project`).toBe(
      true,
    );
  });
  for (const e of index.datasets) {
    it(`${e.path} matches PIL${e.evalTransform ? ' and torchvision' : ''}`, () => {
      const img = loadPath(e.path);
      expect([img.width, img.height]).toEqual([e.width, e.height]);
      if (e.exact) {
        expect(sha256(img.data)).toBe(e.sha256);
      } else {
        expect(diffStats(pick(img.data), bytesU8(e.sample)).max).toBeLessThanOrEqual(JPEG_MAX_DIFF);
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let i = c; i < img.data.length; i += 3) sum += img.data[i];
          expect(Math.abs(sum / (img.width * img.height) - e.mean[c])).toBeLessThan(0.05);
        }
      }
      if (e.resizeShorterSide73 && e.exact) expect(sha256(resizeShorterSide(img, 73).data)).toBe(e.resizeShorterSide73);
      for (const t of e.evalTransform ?? []) {
        const out = evalTransform(img, t.imgSize);
        if (e.exact) {
          expect(diffStats(pick(out), valuesF32(t.sample)).max).toBeLessThanOrEqual(1e-6);
          expect(sha256(out)).toBe(t.sha256);
        } else if (t.tensor) {
          const { max, mean } = diffStats(out, valuesF32(t.tensor));
          expect(max).toBeLessThanOrEqual(JPEG_MAX_DIFF / 255 / 0.224);
          expect(mean).toBeLessThanOrEqual(JPEG_MEAN_DIFF / 255 / 0.224);
        }
      }
    });
  }

  it('decodes every image of bupt-bmp', () => {
    const dir = join(datasets, 'bupt-bmp');
    const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.toLowerCase().endsWith('.bmp'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const img = decodeImage(new Uint8Array(readFileSync(join(dir, f))), f);
      expect(img.width * img.height).toBeGreaterThan(0);
    }
  });
});
