// Training-run pictures: the bitmap font, the canvas, tick choice, the confusion matrix and the
// curve panels. The PNGs are decoded again and checked pixel by pixel; samples are written to
// test-artifacts/plots/ for people to look at.

import { mkdirSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Canvas, WHITE, hexColor, measureText, truncateText, type Color } from '../src/util/raster/canvas.js';
import { accuracyLabel, cellColor, cellLabel, renderConfusionMatrix } from '../src/train/plot/confusion.js';
import { layoutCurves, pointAt, renderCurves, type Panel } from '../src/train/plot/curves.js';
import { FONT, GLYPH_HEIGHT } from '../src/util/raster/font.js';
import { encodePng } from '../src/util/raster/png.js';
import { epochAxis, formatTick, linearTicks, niceStep, valueAxis } from '../src/train/plot/ticks.js';

const ARTIFACTS = new URL('../test-artifacts/plots/', import.meta.url);

function save(name: string, png: Uint8Array): void {
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(new URL(name, ARTIFACTS), png);
}

function decode(png: Uint8Array): PNG {
  expect([...png.slice(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  return PNG.sync.read(Buffer.from(png));
}

function pixel(png: PNG, x: number, y: number): Color {
  const i = (y * png.width + x) * 4;
  return [png.data[i], png.data[i + 1], png.data[i + 2]];
}

const same = (a: Color, b: Color): boolean => a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
const luminance = (c: Color): number => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];

/** Every string drawn on any canvas while `draw` runs. */
function drawnStrings(draw: () => void): string[] {
  const spy = vi.spyOn(Canvas.prototype, 'drawText');
  draw();
  return spy.mock.calls.map((call) => call[0]);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('bitmap font', () => {
  it('covers all printable ASCII with well-formed glyphs', () => {
    for (let code = 32; code <= 126; code++) {
      const ch = String.fromCharCode(code);
      const glyph = FONT.get(ch);
      expect(glyph, `glyph for '${ch}'`).toBeDefined();
      expect(glyph!.rows).toHaveLength(GLYPH_HEIGHT);
      expect(glyph!.width).toBeGreaterThanOrEqual(1);
      expect(glyph!.width).toBeLessThanOrEqual(7);
      for (const mask of glyph!.rows) expect(mask >> glyph!.width).toBe(0);
      const inked = glyph!.rows.some((mask) => mask !== 0);
      expect(inked, `ink in '${ch}'`).toBe(ch !== ' ');
    }
  });

  it('gives distinct bitmaps to different characters', () => {
    const seen = new Map<string, string>();
    for (const [ch, glyph] of FONT) {
      const key = `${glyph.width}:${glyph.rows.join(',')}`;
      expect(seen.get(key), `'${ch}' looks like '${seen.get(key)}'`).toBeUndefined();
      seen.set(key, ch);
    }
  });
});

describe('canvas', () => {
  const inkInside = (canvas: Canvas, box: { x: number; y: number; width: number; height: number }) => {
    let inside = 0;
    let outside = 0;
    for (let y = 0; y < canvas.height; y++) {
      for (let x = 0; x < canvas.width; x++) {
        const [r, g, b] = canvas.getPixel(x, y);
        if (same([r, g, b], WHITE)) continue;
        const within = x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height;
        if (within) inside++;
        else outside++;
      }
    }
    return { inside, outside };
  };

  it('draws text only inside its measured box, whatever the alignment, scale or rotation', () => {
    const text = 'Val loss: 0.3127 (epoch 12)\nAgj|_~';
    const styles = [
      {},
      { align: 'center' as const, valign: 'middle' as const },
      { align: 'right' as const, valign: 'bottom' as const, scale: 2 },
      { rotate: true, bold: true },
    ];
    for (const style of styles) {
      const canvas = new Canvas(500, 400);
      const box = canvas.drawText(text, 250, 200, style);
      const size = measureText(text, style);
      expect([box.width, box.height]).toEqual(style.rotate ? [size.height, size.width] : [size.width, size.height]);
      const { inside, outside } = inkInside(canvas, box);
      expect(inside).toBeGreaterThan(100);
      expect(outside).toBe(0);
      if (style.align === 'right') expect(box.x + box.width).toBe(250);
      if (style.valign === 'bottom') expect(box.y + box.height).toBe(200);
    }
  });

  it('truncates long text with an ellipsis so that it fits', () => {
    const long = 'papillary thyroid carcinoma, follicular variant';
    const short = truncateText(long, 100);
    expect(short.endsWith('…')).toBe(true);
    expect(measureText(short).width).toBeLessThanOrEqual(100);
    expect(truncateText('benign', 100)).toBe('benign');
  });

  it('draws anti-aliased lines through their end points and encodes a valid PNG', () => {
    const canvas = new Canvas(60, 40);
    const blue = hexColor('#1f6fb4');
    canvas.line(5.5, 10.5, 50.5, 10.5, blue, 1);
    canvas.line(5, 35, 50, 15, blue, 2);
    const png = decode(encodePng(canvas));
    expect([png.width, png.height]).toEqual([60, 40]);
    for (let x = 5; x <= 50; x++) expect(pixel(png, x, 10)).toEqual(blue);
    expect(pixel(png, 20, 9)).toEqual(WHITE);
    expect(pixel(png, 27, 25)).toEqual(blue);
    // Anti-aliasing leaves partly covered pixels between the line colour and white.
    const partial = [...Array(60).keys()].flatMap((x) => [...Array(40).keys()].map((y) => pixel(png, x, y)));
    expect(partial.some((c) => !same(c, blue) && !same(c, WHITE))).toBe(true);
  });
});

describe('ticks', () => {
  it('uses 1-2-5 steps', () => {
    expect([0.013, 0.2, 0.3, 7, 45].map(niceStep)).toEqual([0.02, 0.2, 0.5, 10, 50]);
    expect(linearTicks(0.07, 1.53, 7)).toEqual([0.2, 0.4, 0.6, 0.8, 1, 1.2, 1.4]);
  });

  it('formats small and large values compactly', () => {
    expect(formatTick(5e-4, 5e-4, 1e-3)).toBe('5e-4');
    expect(formatTick(1e-3, 5e-4, 1e-3)).toBe('1e-3');
    expect(formatTick(1.5e-3, 5e-4, 2e-3)).toBe('1.5e-3');
    expect(formatTick(2e6, 1e6, 3e6)).toBe('2e6');
    expect(formatTick(0.25, 0.05, 1)).toBe('0.25');
    expect(formatTick(0, 0.1, 1)).toBe('0');
  });

  it('thins integer epoch ticks and pads the range', () => {
    expect(epochAxis(1, 8).ticks.map((t) => t.value)).toEqual([0]);
    const long = epochAxis(200, 8);
    expect(long.ticks.length).toBeLessThanOrEqual(8);
    expect(long.ticks.every((t) => Number.isInteger(t.value) && t.value >= 0 && t.value <= 199)).toBe(true);
    expect(long.min).toBeLessThan(0);
    expect(long.max).toBeGreaterThan(199);
  });

  it('copes with constants, missing values and huge ranges', () => {
    const constant = valueAxis([1e-3, 1e-3], 6);
    expect(constant.min).toBeLessThan(1e-3);
    expect(constant.max).toBeGreaterThan(1e-3);
    expect(constant.ticks.length).toBeGreaterThanOrEqual(2);
    expect(valueAxis([NaN, Infinity], 6)).toMatchObject({ min: expect.any(Number), log: false });
    const huge = valueAxis([1e6, 3, NaN, 0.1], 6);
    expect(huge.log).toBe(true);
    expect(huge.ticks.map((t) => t.label)).toContain('1');
  });
});

describe('confusion matrix', () => {
  it('formats cells without NaN, also for a class that never occurs', () => {
    expect(cellLabel(37, 46)).toBe('37\n(80.4%)');
    expect(cellLabel(0, 0)).toBe('0\n–');
    expect(
      accuracyLabel([
        [0, 0],
        [0, 0],
      ]),
    ).not.toMatch(/NaN|Infinity/);
    expect(
      accuracyLabel([
        [8, 2],
        [1, 9],
      ]),
    ).toBe('Accuracy 85.0% (17/20)');
  });

  it('never draws NaN, whatever the matrix', () => {
    const drawn = drawnStrings(() => {
      renderConfusionMatrix(
        [
          [5, 1, 0],
          [0, 0, 0],
          [2, 0, 7],
        ],
        ['a', 'b', 'c'],
        'zero row',
      );
      renderConfusionMatrix(
        [
          [0, 0],
          [0, 0],
        ],
        ['a', 'b'],
        'empty',
      );
    });
    expect(drawn.length).toBeGreaterThan(10);
    for (const s of drawn) expect(s).not.toMatch(/NaN|Infinity|undefined/);
  });

  it('tints each cell darker the larger its share of the row, in the right place', () => {
    const matrix = [
      [90, 10],
      [30, 70],
    ];
    const bytes = renderConfusionMatrix(matrix, ['benign', 'malignant'], 'Thyroid nodules, validation');
    save('confusion-2.png', bytes);
    const png = decode(bytes);
    // Median position of the pixels painted in each cell's tint (its text and the colour bar are few).
    const centre = (color: Color) => {
      const xs: number[] = [];
      const ys: number[] = [];
      for (let y = 0; y < png.height; y++) {
        for (let x = 0; x < png.width; x++) {
          if (!same(pixel(png, x, y), color)) continue;
          xs.push(x);
          ys.push(y);
        }
      }
      xs.sort((a, b) => a - b);
      ys.sort((a, b) => a - b);
      expect(xs.length).toBeGreaterThan(2000);
      return { x: xs[xs.length >> 1], y: ys[ys.length >> 1] };
    };
    const tint = matrix.map((row) => row.map((count) => cellColor(count / 100)));
    const [[a, b], [c, d]] = tint.map((row) => row.map(centre));
    expect(a.x).toBeLessThan(b.x);
    expect(c.x).toBeLessThan(d.x);
    expect(a.y).toBeLessThan(c.y);
    expect(Math.abs(a.y - b.y)).toBeLessThanOrEqual(2);
    expect(Math.abs(a.x - c.x)).toBeLessThanOrEqual(2);
    expect(luminance(tint[0][0])).toBeLessThan(luminance(tint[1][1]));
    expect(luminance(tint[1][1])).toBeLessThan(luminance(tint[1][0]));
    expect(luminance(tint[1][0])).toBeLessThan(luminance(tint[0][1]));
    for (let k = 1; k <= 20; k++) expect(luminance(cellColor(k / 20))).toBeLessThan(luminance(cellColor((k - 1) / 20)));
  });

  it('handles a zero row, long names and up to 20 classes', () => {
    const names = ['TI-RADS 1 (benign)', 'TI-RADS 2', 'TI-RADS 3, a class with a very long descriptive name', 'TI-RADS 4', 'TI-RADS 5'];
    const five = [
      [37, 5, 3, 1, 0],
      [4, 51, 6, 0, 2],
      [0, 0, 0, 0, 0],
      [2, 3, 1, 28, 6],
      [0, 1, 2, 9, 120],
    ];
    const small = renderConfusionMatrix(five, names, 'Validation confusion matrix');
    save('confusion-5.png', small);
    decode(small);
    const n = 20;
    const big = [...Array(n)].map((_, i) => [...Array(n)].map((_, j) => (i === j ? 40 + 3 * i : (7 * i + 3 * j) % 11 === 0 ? (i + j) % 9 : 0)));
    big[4] = Array(n).fill(0);
    const bytes = renderConfusionMatrix(
      big,
      [...Array(n)].map((_, i) => `class ${i + 1}`),
      '20 classes',
    );
    save('confusion-20.png', bytes);
    const large = decode(bytes);
    expect(large.width).toBeGreaterThan(n * 50);
    expect(large.height).toBeGreaterThan(n * 50);
    expect(large.width).toBeLessThan(2000);
    expect(() => renderConfusionMatrix([[1, 2]], ['a'], 'bad')).toThrow();
  });
});

describe('training curves', () => {
  it('puts every point of a series where its value maps', () => {
    const values = [1, 3, 2, 5, 4];
    const panels: Panel[] = [{ title: 'Loss', yLabel: 'loss', series: [{ label: 'train', values }] }];
    const layout = layoutCurves(panels);
    const png = decode(renderCurves(panels));
    expect([png.width, png.height]).toEqual([layout.width, layout.height]);
    const panel = layout.panels[0];
    const color = layout.styles.get('train')!.color;
    const points = values.map((v, k) => pointAt(panel, k, v));
    for (const [px, py] of points) {
      // A marker is a filled disc: most of the 7×7 pixels around the point are the series colour.
      let hits = 0;
      for (let dy = -3; dy <= 3; dy++) for (let dx = -3; dx <= 3; dx++) if (same(pixel(png, Math.floor(px) + dx, Math.floor(py) + dy), color)) hits++;
      expect(hits).toBeGreaterThanOrEqual(25);
      expect(px).toBeGreaterThan(panel.plot.x + 3);
      expect(px).toBeLessThan(panel.plot.x + panel.plot.width - 3);
      expect(py).toBeGreaterThan(panel.plot.y + 3);
      expect(py).toBeLessThan(panel.plot.y + panel.plot.height - 3);
    }
    // Equal steps along x, and y linear in the value with larger values higher up.
    const [x0, y1] = points[0];
    const dx = points[1][0] - x0;
    const perUnit = (y1 - points[3][1]) / 4;
    expect(perUnit).toBeGreaterThan(10);
    points.forEach(([px, py], k) => {
      expect(px - x0).toBeCloseTo(k * dx, 6);
      expect(y1 - py).toBeCloseTo((values[k] - 1) * perUnit, 6);
    });
    // Every y tick has its grid line across the plot at the row its value maps to.
    expect(panel.y.ticks.length).toBeGreaterThanOrEqual(3);
    for (const tick of panel.y.ticks) {
      const row = Math.round(pointAt(panel, 0, tick.value)[1]);
      expect(pixel(png, panel.plot.x + 1, row)).not.toEqual(WHITE);
      expect(pixel(png, panel.plot.x + 1, row + 3)).toEqual(WHITE);
      expect(Number(tick.label)).toBeCloseTo(tick.value, 9);
    }
  });

  it('draws a single epoch as a visible marker', () => {
    const panels: Panel[] = [{ title: 'Loss', yLabel: 'loss', series: [{ label: 'val', values: [0.7] }] }];
    const layout = layoutCurves(panels);
    const png = decode(renderCurves(panels));
    const [px, py] = pointAt(layout.panels[0], 0, 0.7);
    expect(pixel(png, Math.floor(px), Math.floor(py))).toEqual(layout.styles.get('val')!.color);
    expect(Math.abs(px - (layout.panels[0].plot.x + layout.panels[0].plot.width / 2))).toBeLessThan(1);
  });

  it('renders awkward runs without drawing NaN and writes sample pictures', () => {
    const n = 30;
    const epochs = [...Array(n).keys()];
    const lr = epochs.map((i) => (i < 3 ? (1e-3 * (i + 1)) / 3 : 5e-4 * (1 + Math.cos((Math.PI * (i - 3)) / (n - 3)))));
    const run: Panel[] = [
      {
        title: 'Loss',
        yLabel: 'cross-entropy',
        series: [
          { label: 'train', values: epochs.map((i) => 1.2 * Math.exp(-i / 8) + 0.15 + 0.02 * Math.sin(i)) },
          { label: 'val', values: epochs.map((i) => 1.1 * Math.exp(-i / 10) + 0.3 + 0.04 * Math.cos(1.3 * i)) },
        ],
      },
      {
        title: 'Accuracy',
        yLabel: 'accuracy',
        series: [
          { label: 'train', values: epochs.map((i) => 0.95 - 0.45 * Math.exp(-i / 7)) },
          { label: 'val', values: epochs.map((i) => (i === 12 ? NaN : 0.88 - 0.4 * Math.exp(-i / 8))) },
        ],
      },
      { title: 'Learning rate', yLabel: 'learning rate', series: [{ label: 'lr', values: lr }] },
    ];
    const long = [...Array(200).keys()];
    const awkward: Panel[] = [
      {
        title: 'One epoch',
        yLabel: 'loss',
        series: [
          { label: 'train', values: [0.7] },
          { label: 'val', values: [0.65] },
        ],
      },
      { title: 'Constant', yLabel: 'learning rate', series: [{ label: 'lr', values: [1e-3, 1e-3, 1e-3] }] },
      { title: 'Diverging', yLabel: 'loss', series: [{ label: 'train', values: [1e6, 3e4, 200, 5, 1, 0.5, 0.2, NaN, 0.1, Infinity] }] },
    ];
    const many: Panel[] = [
      {
        title: '200 epochs',
        yLabel: 'loss',
        xLabel: 'epoch',
        series: [
          { label: 'train', values: long.map((i) => 2 / (1 + i / 10) + 0.02 * Math.sin(i * 0.4)) },
          { label: 'val', values: long.map((i) => (i % 50 === 7 ? NaN : 2.2 / (1 + i / 12) + 0.04 * Math.cos(i * 0.3))) },
        ],
      },
      {
        title: 'Nothing yet',
        yLabel: 'accuracy',
        series: [
          { label: 'val', values: [NaN, NaN] },
          { label: 'empty', values: [] },
        ],
      },
      {
        title: 'Mixed signs',
        yLabel: 'value',
        series: [
          { label: 'a', values: [-2e5, 1e5, 3e5, NaN, NaN, 2e5] },
          { label: 'b', values: [NaN, 5, NaN, 1e5] },
        ],
      },
    ];
    const drawn = drawnStrings(() => {
      for (const [name, panels] of [
        ['curves.png', run],
        ['curves-edge-cases.png', awkward],
        ['curves-200-epochs.png', many],
      ] as const) {
        const png = renderCurves(panels);
        const decoded = decode(png);
        expect(decoded.width).toBe(layoutCurves(panels).width);
        save(name, png);
      }
    });
    for (const s of drawn) expect(s).not.toMatch(/NaN|Infinity|undefined/);
    expect(drawn).toEqual(expect.arrayContaining(['2e-4', '1e-3']));
  });
});
