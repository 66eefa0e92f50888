// Training curves as one PNG: panels side by side (say loss, accuracy, learning rate), each with
// its own axes, grid, legend and one line per series. Value i of a series belongs to epoch i (0-based, as the training log counts);
// NaN (or another unplottable value, see isPlottable) leaves a gap. A series keeps its colour and
// marker in every panel.

import { Canvas, hexColor, measureText, truncateText, type Box, type Color, type MarkerShape, type Point } from '../../util/raster/canvas.js';
import { encodePng } from '../../util/raster/png.js';
import { axisFraction, epochAxis, isPlottable, valueAxis, type Axis } from './ticks.js';

export interface Series {
  label: string;
  /** One per epoch; NaN = missing. */
  values: number[];
}

export interface Panel {
  title: string;
  yLabel: string;
  series: Series[];
  /** Default 'epoch'. */
  xLabel?: string;
}

export interface SeriesStyle {
  color: Color;
  marker: MarkerShape;
}

export interface PanelLayout {
  /** The whole panel and its plotting area, in image pixels. */
  frame: Box;
  plot: Box;
  x: Axis;
  y: Axis;
  /** Top of each legend row. */
  legendTops: number[];
}

export interface CurvesLayout {
  width: number;
  height: number;
  panels: PanelLayout[];
  /** Colour and marker of every series label. */
  styles: Map<string, SeriesStyle>;
}

const PANEL_WIDTH = 440;
const PANEL_HEIGHT = 340;
const PAD = 14;
const TEXT = 13;
const LEGEND_ROW = 17;
const PALETTE = ['#1f6fb4', '#e3741b', '#2b9a3e', '#c8372d', '#7f57b3', '#8c5a46', '#cf5aa0', '#5f6b75'].map(hexColor);
const MARKERS: MarkerShape[] = ['circle', 'square', 'diamond', 'triangle'];
const INK: Color = [40, 40, 40];
const MUTED: Color = [90, 90, 90];
const FRAME: Color = [170, 170, 170];
const GRID: Color = [234, 234, 234];

/** Where every part of the figure goes; renderCurves draws exactly this. */
export function layoutCurves(panels: readonly Panel[]): CurvesLayout {
  const styles = new Map<string, SeriesStyle>();
  for (const panel of panels) {
    for (const { label } of panel.series) {
      if (!styles.has(label)) styles.set(label, { color: PALETTE[styles.size % PALETTE.length], marker: MARKERS[styles.size % MARKERS.length] });
    }
  }
  const layouts = panels.map((panel, index): PanelLayout => {
    const frame = { x: index * PANEL_WIDTH, y: 0, width: PANEL_WIDTH, height: PANEL_HEIGHT };
    const legendTops = legendRows(panel, PANEL_WIDTH - 2 * PAD).map((_, row) => PAD + TEXT + 8 + row * LEGEND_ROW);
    const top = PAD + TEXT + 8 + legendTops.length * LEGEND_ROW + 6;
    const bottom = PANEL_HEIGHT - (PAD + TEXT + 8 + TEXT + 7);
    const y = valueAxis(
      panel.series.flatMap((s) => s.values),
      Math.max(2, Math.floor((bottom - top) / 36) + 1),
    );
    const tickWidth = Math.max(0, ...y.ticks.map((t) => measureText(t.label).width));
    const left = frame.x + PAD + TEXT + 10 + tickWidth + 8;
    const right = frame.x + PANEL_WIDTH - 20;
    const epochs = Math.max(1, ...panel.series.map((s) => s.values.length));
    const x = epochAxis(epochs, Math.max(2, Math.floor((right - left) / 48)));
    return { frame, plot: { x: left, y: top, width: right - left, height: bottom - top }, x, y, legendTops };
  });
  return { width: Math.max(1, panels.length) * PANEL_WIDTH, height: PANEL_HEIGHT, panels: layouts, styles };
}

/** The pixel where value `value` of epoch index `index` (0-based) is drawn. */
export function pointAt(layout: PanelLayout, index: number, value: number): Point {
  const { plot } = layout;
  return [plot.x + axisFraction(layout.x, index) * plot.width, plot.y + plot.height - axisFraction(layout.y, value) * plot.height];
}

export function renderCurves(panels: Panel[]): Uint8Array {
  const layout = layoutCurves(panels);
  const canvas = new Canvas(layout.width, layout.height);
  panels.forEach((panel, i) => drawPanel(canvas, panel, layout.panels[i], layout.styles));
  return encodePng(canvas);
}

function drawPanel(canvas: Canvas, panel: Panel, layout: PanelLayout, styles: Map<string, SeriesStyle>): void {
  const { plot, frame } = layout;
  const centre = plot.x + plot.width / 2;
  const bottom = plot.y + plot.height;
  canvas.drawText(truncateText(panel.title, frame.width - 2 * PAD, { bold: true }), centre, PAD, { bold: true, align: 'center', color: INK });
  drawLegend(canvas, panel, layout, styles);

  for (const tick of layout.y.ticks) {
    const py = Math.round(pointAt(layout, 0, tick.value)[1]);
    canvas.fillRect(plot.x, py, plot.width, 1, GRID);
    canvas.fillRect(plot.x - 4, py, 4, 1, FRAME);
    canvas.drawText(tick.label, plot.x - 8, py, { align: 'right', valign: 'middle', color: MUTED });
  }
  for (const tick of layout.x.ticks) {
    const px = Math.round(pointAt(layout, tick.value - 1, 0)[0]);
    canvas.fillRect(px, plot.y, 1, plot.height, GRID);
    canvas.fillRect(px, bottom, 1, 4, FRAME);
    canvas.drawText(tick.label, px + 0.5, bottom + 7, { align: 'center', color: MUTED });
  }
  canvas.strokeRect(plot.x - 1, plot.y - 1, plot.width + 2, plot.height + 2, FRAME);

  const yLabel = layout.y.log ? `${panel.yLabel} (log scale)` : panel.yLabel;
  canvas.drawText(truncateText(yLabel, plot.height), frame.x + PAD, plot.y + plot.height / 2, { rotate: true, valign: 'middle', color: INK });
  canvas.drawText(panel.xLabel ?? 'epoch', centre, frame.height - PAD - TEXT, { align: 'center', color: INK });

  const spacing = plot.width / (layout.x.max - layout.x.min);
  const radius = spacing >= 12 ? 3.5 : spacing >= 6 ? 2.5 : 0;
  const runs = panel.series.map((s) => finiteRuns(s.values));
  panel.series.forEach((s, i) => {
    for (const run of runs[i])
      if (run.length > 1)
        canvas.polyline(
          run.map((k) => pointAt(layout, k, s.values[k])),
          styles.get(s.label)!.color,
          2,
        );
  });
  panel.series.forEach((s, i) => {
    const { color, marker } = styles.get(s.label)!;
    for (const run of runs[i]) {
      // A lone point has no line through it, so it is always marked.
      if (radius === 0 && run.length > 1) continue;
      for (const k of run) canvas.marker(...pointAt(layout, k, s.values[k]), radius || 2.5, marker, color, [255, 255, 255]);
    }
  });
}

/** Indices of the plottable values, split where a value is missing. */
function finiteRuns(values: readonly number[]): number[][] {
  const runs: number[][] = [];
  let run: number[] = [];
  values.forEach((v, k) => {
    if (isPlottable(v)) run.push(k);
    else if (run.length > 0) {
      runs.push(run);
      run = [];
    }
  });
  if (run.length > 0) runs.push(run);
  return runs;
}

const SAMPLE = 22;
const ENTRY_GAP = 18;

function entryWidth(label: string): number {
  return SAMPLE + 6 + measureText(label).width;
}

/** The series of a panel grouped into legend rows that fit the width. */
function legendRows(panel: Panel, width: number): Series[][] {
  const rows: Series[][] = [];
  let used = Infinity;
  for (const s of panel.series) {
    const w = entryWidth(s.label);
    if (used + ENTRY_GAP + w > width) {
      rows.push([]);
      used = -ENTRY_GAP;
    }
    rows[rows.length - 1].push(s);
    used += ENTRY_GAP + w;
  }
  return rows;
}

function drawLegend(canvas: Canvas, panel: Panel, layout: PanelLayout, styles: Map<string, SeriesStyle>): void {
  const centre = layout.plot.x + layout.plot.width / 2;
  legendRows(panel, layout.frame.width - 2 * PAD).forEach((row, r) => {
    const top = layout.legendTops[r];
    const total = row.reduce((sum, s) => sum + entryWidth(s.label), 0) + ENTRY_GAP * (row.length - 1);
    let x = Math.round(Math.max(layout.frame.x + PAD, Math.min(centre - total / 2, layout.frame.x + layout.frame.width - PAD - total)));
    for (const s of row) {
      const { color, marker } = styles.get(s.label)!;
      const mid = top + 5.5;
      canvas.line(x, mid, x + SAMPLE, mid, color, 2);
      canvas.marker(x + SAMPLE / 2, mid, 3.5, marker, color, [255, 255, 255]);
      canvas.drawText(s.label, x + SAMPLE + 6, top, { color: INK });
      x += entryWidth(s.label) + ENTRY_GAP;
    }
  });
}
