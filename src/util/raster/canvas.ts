// A tiny RGBA raster canvas for the training plots: rectangles, anti-aliased polylines, markers and
// text in the bitmap font of font.ts (scaled, bold, aligned, or turned 90° for y-axis labels). It
// uses no Node API; png.ts turns a canvas into a PNG file.
//
// Pixel (x, y) covers the square [x, x+1) × [y, y+1), so its centre is (x + 0.5, y + 0.5): a 1 px
// line along y = 10.5 fills row 10 exactly.

import { CAP_BOTTOM, CAP_TOP, GLYPH_HEIGHT, LETTER_SPACING, LINE_HEIGHT, glyphFor } from './font.js';

export type Color = readonly [r: number, g: number, b: number];
export type Point = readonly [x: number, y: number];
export type MarkerShape = 'circle' | 'square' | 'diamond' | 'triangle';

export const WHITE: Color = [255, 255, 255];
export const BLACK: Color = [0, 0, 0];

/** '#1f77b4' → [31, 119, 180]. */
export function hexColor(hex: string): Color {
  const v = parseInt(hex.replace('#', ''), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

export interface TextStyle {
  color?: Color;
  /** Whole-number magnification of the font (1 = 13 px glyphs). */
  scale?: number;
  bold?: boolean;
  /** Where x lies on the text's box; lines of several-line text are justified the same way. */
  align?: 'left' | 'center' | 'right';
  /** Where y lies on the text's box; 'middle' centres the capitals, not the descenders. */
  valign?: 'top' | 'middle' | 'bottom';
  /** Turn the text 90° anticlockwise so that it reads from bottom to top. */
  rotate?: boolean;
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Size of the unrotated box that drawText fills for this text ('\n' starts a new line). */
export function measureText(text: string, style: TextStyle = {}): { width: number; height: number } {
  const scale = style.scale ?? 1;
  const lines = text.split('\n');
  const width = Math.max(...lines.map((line) => lineWidth(line, scale)));
  return { width: width + (style.bold && width > 0 ? 1 : 0), height: ((lines.length - 1) * LINE_HEIGHT + GLYPH_HEIGHT) * scale };
}

function lineWidth(line: string, scale: number): number {
  const chars = [...line];
  if (chars.length === 0) return 0;
  const inked = chars.reduce((sum, ch) => sum + glyphFor(ch).width, 0);
  return (inked + LETTER_SPACING * (chars.length - 1)) * scale;
}

/** The text, or as much of it as fits in maxWidth pixels followed by an ellipsis. */
export function truncateText(text: string, maxWidth: number, style: TextStyle = {}): string {
  if (measureText(text, style).width <= maxWidth) return text;
  const chars = [...text];
  while (chars.length > 0 && measureText(`${chars.join('').trimEnd()}…`, style).width > maxWidth) chars.pop();
  return `${chars.join('').trimEnd()}…`;
}

export class Canvas {
  readonly data: Uint8ClampedArray;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Color = WHITE,
  ) {
    this.data = new Uint8ClampedArray(width * height * 4);
    this.fillRect(0, 0, width, height, background);
  }

  getPixel(x: number, y: number): [r: number, g: number, b: number, a: number] {
    const i = (y * this.width + x) * 4;
    return [this.data[i], this.data[i + 1], this.data[i + 2], this.data[i + 3]];
  }

  /** Paints colour over pixel (x, y) with the given opacity; pixels off the canvas are ignored. */
  blendPixel(x: number, y: number, color: Color, alpha = 1): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height || alpha <= 0) return;
    const i = (y * this.width + x) * 4;
    const a = Math.min(alpha, 1);
    for (let c = 0; c < 3; c++) this.data[i + c] = Math.round(this.data[i + c] * (1 - a) + color[c] * a);
    this.data[i + 3] = 255;
  }

  /** Fills the pixels of the rectangle whose corners are rounded to whole pixels. */
  fillRect(x: number, y: number, width: number, height: number, color: Color, alpha = 1): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + width));
    const y1 = Math.min(this.height, Math.round(y + height));
    for (let py = y0; py < y1; py++) for (let px = x0; px < x1; px++) this.blendPixel(px, py, color, alpha);
  }

  /** A 1 px frame just inside the rectangle. */
  strokeRect(x: number, y: number, width: number, height: number, color: Color): void {
    this.fillRect(x, y, width, 1, color);
    this.fillRect(x, y + height - 1, width, 1, color);
    this.fillRect(x, y + 1, 1, height - 2, color);
    this.fillRect(x + width - 1, y + 1, 1, height - 2, color);
  }

  /**
   * An anti-aliased polyline with round joins and caps. Each pixel is painted once with the largest
   * coverage of any segment, so that joins are not darker than the rest of the line.
   */
  polyline(points: readonly Point[], color: Color, lineWidth = 2): void {
    const half = lineWidth / 2;
    const coverage = new Map<number, number>();
    const segments = points.length === 1 ? [[points[0], points[0]]] : points.slice(1).map((p, i) => [points[i], p]);
    for (const [[ax, ay], [bx, by]] of segments) {
      const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - half - 1));
      const x1 = Math.min(this.width - 1, Math.ceil(Math.max(ax, bx) + half + 1));
      const y0 = Math.max(0, Math.floor(Math.min(ay, by) - half - 1));
      const y1 = Math.min(this.height - 1, Math.ceil(Math.max(ay, by) + half + 1));
      const dx = bx - ax;
      const dy = by - ay;
      const length2 = dx * dx + dy * dy;
      for (let py = y0; py <= y1; py++) {
        for (let px = x0; px <= x1; px++) {
          const cx = px + 0.5 - ax;
          const cy = py + 0.5 - ay;
          const t = length2 > 0 ? Math.min(1, Math.max(0, (cx * dx + cy * dy) / length2)) : 0;
          const cover = Math.min(1, half + 0.5 - Math.hypot(cx - t * dx, cy - t * dy));
          const key = py * this.width + px;
          if (cover > (coverage.get(key) ?? 0)) coverage.set(key, cover);
        }
      }
    }
    for (const [key, cover] of coverage) this.blendPixel(key % this.width, Math.floor(key / this.width), color, cover);
  }

  line(x0: number, y0: number, x1: number, y1: number, color: Color, lineWidth = 1): void {
    this.polyline(
      [
        [x0, y0],
        [x1, y1],
      ],
      color,
      lineWidth,
    );
  }

  /** An anti-aliased filled marker of about the given radius centred on (cx, cy), with an optional ring. */
  marker(cx: number, cy: number, radius: number, shape: MarkerShape, color: Color, ring?: Color): void {
    if (ring) this.fillShape(cx, cy, radius + 1.25, shape, ring);
    this.fillShape(cx, cy, radius, shape, color);
  }

  private fillShape(cx: number, cy: number, r: number, shape: MarkerShape, color: Color): void {
    const reach = Math.ceil(r * 1.3 + 1);
    for (let py = Math.floor(cy) - reach; py <= Math.floor(cy) + reach; py++) {
      for (let px = Math.floor(cx) - reach; px <= Math.floor(cx) + reach; px++) {
        this.blendPixel(px, py, color, Math.min(1, 0.5 - signedDistance(px + 0.5 - cx, py + 0.5 - cy, r, shape)));
      }
    }
  }

  /** Draws text anchored at (x, y) as the style says and returns the box it occupies. */
  drawText(text: string, x: number, y: number, style: TextStyle = {}): Box {
    const scale = style.scale ?? 1;
    const color = style.color ?? BLACK;
    const { width, height } = measureText(text, style);
    const lines = text.split('\n');
    // Offset of the capitals' centre across the lines, from the top of the box.
    const capCentre = ((CAP_TOP + (lines.length - 1) * LINE_HEIGHT + CAP_BOTTOM + 1) / 2) * scale;
    const box = style.rotate
      ? { x: anchor(x, height, style.align, capCentre), y: anchor(y, width, verticalAlign(style.valign)), width: height, height: width }
      : { x: anchor(x, width, style.align), y: anchor(y, height, verticalAlign(style.valign), capCentre), width, height };
    // (u, v): position along and across the text, in the unrotated box.
    const plot = (u: number, v: number, size: number): void => {
      if (style.rotate) this.fillRect(box.x + v, box.y + width - u - size, size, size, color);
      else this.fillRect(box.x + u, box.y + v, size, size, color);
    };
    lines.forEach((line, row) => {
      const justify = style.rotate ? 'center' : (style.align ?? 'left');
      const slack = width - lineWidth(line, scale) - (style.bold ? 1 : 0);
      let u = justify === 'left' ? 0 : justify === 'center' ? Math.floor(slack / 2) : slack;
      const v = row * LINE_HEIGHT * scale;
      for (const ch of line) {
        const glyph = glyphFor(ch);
        glyph.rows.forEach((mask, gy) => {
          for (let gx = 0; gx < glyph.width; gx++) {
            if (!(mask & (1 << gx))) continue;
            plot(u + gx * scale, v + gy * scale, scale);
            if (style.bold) plot(u + gx * scale + 1, v + gy * scale, scale);
          }
        });
        u += (glyph.width + LETTER_SPACING) * scale;
      }
    });
    return box;
  }
}

function verticalAlign(valign: TextStyle['valign']): 'left' | 'center' | 'right' {
  return valign === 'middle' ? 'center' : valign === 'bottom' ? 'right' : 'left';
}

/** Start of a box of the given size so that `at` lies at its start, centre (or the given centre offset) or end. */
function anchor(at: number, size: number, align: TextStyle['align'], centre = size / 2): number {
  if (align === 'center') return Math.round(at - centre);
  if (align === 'right') return at - size;
  return at;
}

/** Distance from (dx, dy) to the edge of a marker centred at the origin, negative inside. */
function signedDistance(dx: number, dy: number, r: number, shape: MarkerShape): number {
  switch (shape) {
    case 'circle':
      return Math.hypot(dx, dy) - r;
    case 'square':
      return Math.max(Math.abs(dx), Math.abs(dy)) - r * 0.85;
    case 'diamond':
      return (Math.abs(dx) + Math.abs(dy)) / Math.SQRT2 - r * 0.8;
    case 'triangle': {
      // An upward triangle of circumradius 1.3 r: its inradius is half of that.
      const edges = Math.max(dy, -0.866 * dx - 0.5 * dy, 0.866 * dx - 0.5 * dy);
      return edges - r * 0.65;
    }
  }
}
