// Confusion matrix as a PNG: rows are true labels, columns predicted labels, every cell tinted by
// its share of the row (white to deep blue) and labelled with its count and that share; empty
// cells are labelled faintly. A class that never occurs has a grey row of zeros marked "–" instead
// of a percentage. A colour bar explains the tint; the overall accuracy is the subtitle. Above
// LABELLED_CLASSES classes (ImageNet has 1000) the cells are only tinted, small enough that the grid
// stays about GRID_PIXELS wide (at least a pixel a cell), and class names are left out where the rows
// are too thin for them (class_indices.json names them); every step is O(k^2).

import { Canvas, measureText, truncateText, type Color } from '../../util/raster/canvas.js';
import { encodePng } from '../../util/raster/png.js';

const PAD = 20;
const TEXT = 13;
const MAX_LABEL = 150;
const LABELLED_CLASSES = 40;
const GRID_PIXELS = 1600;
const INK: Color = [40, 40, 40];
const MUTED: Color = [100, 100, 100];
const EMPTY: Color = [240, 240, 240];
const FRAME: Color = [150, 150, 150];
/** Empty cells are labelled faintly, so that the non-zero ones stand out. */
const FAINT: Color = [170, 170, 170];
/** White to deep blue, by fraction of the row. */
const STOPS: [at: number, color: Color][] = [
  [0, [247, 251, 255]],
  [0.25, [199, 220, 239]],
  [0.5, [112, 168, 214]],
  [0.75, [38, 113, 180]],
  [1, [8, 52, 115]],
];

/** The tint of a cell holding the given fraction (0..1) of its row. */
export function cellColor(fraction: number): Color {
  const t = Math.min(1, Math.max(0, fraction));
  const i = Math.min(STOPS.length - 2, Math.floor(t * (STOPS.length - 1)));
  const [a, from] = STOPS[i];
  const [b, to] = STOPS[i + 1];
  const f = (t - a) / (b - a);
  const mix = (c: number): number => Math.round(from[c] + (to[c] - from[c]) * f);
  return [mix(0), mix(1), mix(2)];
}

/** Text colour that stays readable on a background: white on dark tints, near-black otherwise. */
export function textColorOn(background: Color): Color {
  const luminance = 0.299 * background[0] + 0.587 * background[1] + 0.114 * background[2];
  return luminance < 140 ? [255, 255, 255] : INK;
}

/** "37\n(80.4%)"; a row without samples has no percentage: "0\n–". */
export function cellLabel(count: number, rowTotal: number): string {
  if (rowTotal <= 0) return `${count}\n–`;
  return `${count}\n(${((100 * count) / rowTotal).toFixed(1)}%)`;
}

/** "Accuracy 84.2% (421/500)", or "Accuracy – (no samples)" for an empty matrix. */
export function accuracyLabel(matrix: readonly (readonly number[])[]): string {
  const total = matrix.flat().reduce((a, b) => a + b, 0);
  const correct = matrix.reduce((sum, row, i) => sum + row[i], 0);
  if (total <= 0) return 'Accuracy – (no samples)';
  return `Accuracy ${((100 * correct) / total).toFixed(1)}% (${correct}/${total})`;
}

export function renderConfusionMatrix(matrix: number[][], classNames: string[], title: string): Uint8Array {
  const n = classNames.length;
  if (matrix.length !== n || matrix.some((row) => row.length !== n)) {
    throw new Error(`confusion matrix must be ${n}×${n} for ${n} class names`);
  }
  const rowTotals = matrix.map((row) => row.reduce((a, b) => a + b, 0));
  const labelled = n <= LABELLED_CLASSES;
  const labels = labelled ? matrix.map((row, i) => row.map((count) => cellLabel(count, rowTotals[i]))) : [];
  const widest = widestOf(labels.flat());
  const cell = labelled ? Math.max(widest + 12, Math.min(110, Math.max(56, Math.floor(560 / n)))) : Math.max(1, Math.floor(GRID_PIXELS / n));

  const names = cell >= TEXT + 3 ? classNames.map((name) => truncateText(name, MAX_LABEL)) : [];
  const nameWidth = widestOf(names);
  const rotateNames = nameWidth > cell - 6;
  const namesHeight = rotateNames ? nameWidth : TEXT;

  const titleStyle = { scale: 2 };
  const subtitle = accuracyLabel(matrix);
  const gridX = PAD + TEXT + 14 + nameWidth + 10;
  const gridY = PAD + 2 * TEXT + 8 + TEXT + 22;
  const size = n * cell;
  const barX = gridX + size + 24;
  const barLabelsRight = barX + 14 + 8 + measureText('100%').width;
  const width = Math.max(barLabelsRight + PAD, measureText(title, titleStyle).width + 2 * PAD, measureText(subtitle).width + 2 * PAD);
  const height = gridY + size + 8 + namesHeight + 12 + TEXT + PAD;
  const canvas = new Canvas(width, height);

  // Centre the headings over the grid, shifted where needed to stay inside the picture.
  const over = (textWidth: number): number => Math.min(Math.max(gridX + size / 2, PAD + textWidth / 2), width - PAD - textWidth / 2);
  canvas.drawText(title, over(measureText(title, titleStyle).width), PAD, { ...titleStyle, align: 'center', color: INK });
  canvas.drawText(subtitle, over(measureText(subtitle).width), PAD + 2 * TEXT + 8, { align: 'center', color: MUTED });

  matrix.forEach((row, i) => {
    row.forEach((count, j) => {
      const x = gridX + j * cell;
      const y = gridY + i * cell;
      const fill = rowTotals[i] > 0 ? cellColor(count / rowTotals[i]) : EMPTY;
      canvas.fillRect(x, y, cell, cell, fill);
      if (!labelled) return;
      const color = rowTotals[i] === 0 ? MUTED : count === 0 ? FAINT : textColorOn(fill);
      canvas.drawText(labels[i][j], x + cell / 2, y + cell / 2, { align: 'center', valign: 'middle', color });
    });
  });
  for (let k = 1; k < n && labelled; k++) {
    canvas.fillRect(gridX + k * cell, gridY, 1, size, [255, 255, 255]);
    canvas.fillRect(gridX, gridY + k * cell, size, 1, [255, 255, 255]);
  }
  canvas.strokeRect(gridX - 1, gridY - 1, size + 2, size + 2, FRAME);

  names.forEach((name, k) => {
    const middle = k * cell + cell / 2;
    canvas.drawText(name, gridX - 10, gridY + middle, { align: 'right', valign: 'middle', color: INK });
    canvas.drawText(name, gridX + middle, gridY + size + 8, { align: 'center', valign: 'top', rotate: rotateNames, color: INK });
  });
  canvas.drawText('True label', PAD, gridY + size / 2, { rotate: true, valign: 'middle', color: INK, bold: true });
  canvas.drawText('Predicted label', gridX + size / 2, height - PAD - TEXT, { align: 'center', color: INK, bold: true });

  drawColorBar(canvas, barX, gridY, size);
  return encodePng(canvas);
}

/** The widest of some texts, in pixels (0 for none); a loop, not Math.max(...texts), which overflows the stack for long lists. */
function widestOf(texts: string[]): number {
  let widest = 0;
  for (const text of texts) widest = Math.max(widest, measureText(text).width);
  return widest;
}

/** A vertical bar from 0% (bottom) to 100% (top) of a row, with ticks every 25%. */
function drawColorBar(canvas: Canvas, x: number, y: number, height: number): void {
  for (let k = 0; k < height; k++) canvas.fillRect(x, y + k, 14, 1, cellColor(1 - (k + 0.5) / height));
  canvas.strokeRect(x - 1, y - 1, 16, height + 2, FRAME);
  for (const percent of [0, 25, 50, 75, 100]) {
    const ty = Math.round(y + (1 - percent / 100) * (height - 1));
    canvas.fillRect(x + 15, ty, 4, 1, FRAME);
    canvas.drawText(`${percent}%`, x + 22, ty, { valign: 'middle', color: MUTED });
  }
}
