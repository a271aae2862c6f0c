import { layoutChart, type ChartOptions, type Series } from './chart.js';
import { glyph, GLYPH_H, GLYPH_W } from './font.js';
import { encodePng } from './png.js';

/** An RGB canvas with the few primitives a line chart needs. */
class Canvas {
  readonly rgb: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.rgb = new Uint8Array(width * height * 3).fill(255);
  }

  dot(x: number, y: number, c: [number, number, number]): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.rgb.set(c, (y * this.width + x) * 3);
  }

  disc(x: number, y: number, r: number, c: [number, number, number]): void {
    for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) if (dx * dx + dy * dy <= r * r + r) this.dot(x + dx, y + dy, c);
  }

  /** A line of the given width, stamped along its length (at most one step per pixel). */
  line(x0: number, y0: number, x1: number, y1: number, c: [number, number, number], width = 1): void {
    const steps = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
    const r = (width - 1) / 2;
    for (let i = 0; i <= steps; i++) {
      const x = x0 + (x1 - x0) * (i / steps);
      const y = y0 + (y1 - y0) * (i / steps);
      if (r <= 0) this.dot(x, y, c);
      else this.disc(x, y, Math.ceil(r), c);
    }
  }

  /** Text in the 3x5 font at `scale`, anchored left, centre or right at x, top at y. */
  text(s: string, x: number, y: number, anchor: 'start' | 'middle' | 'end', c: [number, number, number], scale = 2): void {
    const w = (s.length * GLYPH_W - 1) * scale;
    let cx = anchor === 'start' ? x : anchor === 'middle' ? x - w / 2 : x - w;
    cx = Math.round(cx);
    for (const ch of s) {
      const rows = glyph(ch);
      for (let r = 0; r < GLYPH_H; r++) {
        for (let b = 0; b < 3; b++) {
          if (!(rows[r] & (4 >> b))) continue;
          for (let sy = 0; sy < scale; sy++) for (let sx = 0; sx < scale; sx++) this.dot(cx + b * scale + sx, y + r * scale + sy, c);
        }
      }
      cx += GLYPH_W * scale;
    }
  }
}

function rgb(hex: string): [number, number, number] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
}

const BLACK: [number, number, number] = [0, 0, 0];
const GRID: [number, number, number] = [224, 224, 224];

/** The same chart as lineChartSvg, rasterized to PNG bytes (text in a 3x5 pixel font; the y label is omitted). */
export async function lineChartPng(series: readonly Series[], options: ChartOptions | null = {}): Promise<Uint8Array> {
  const L = layoutChart('lineChartPng', series, options);
  const cv = new Canvas(L.width, L.height);
  for (const t of L.xTicks) {
    cv.line(t.at, L.top, t.at, L.bottom, GRID);
    cv.text(t.label, t.at, L.bottom + 6, 'middle', BLACK);
  }
  for (const t of L.yTicks) {
    cv.line(L.left, t.at, L.right, t.at, GRID);
    cv.text(t.label, L.left - 6, t.at - 5, 'end', BLACK);
  }
  cv.line(L.left, L.top, L.right, L.top, BLACK);
  cv.line(L.left, L.bottom, L.right, L.bottom, BLACK);
  cv.line(L.left, L.top, L.left, L.bottom, BLACK);
  cv.line(L.right, L.top, L.right, L.bottom, BLACK);
  for (const s of L.series) {
    const c = rgb(s.color);
    for (let i = 1; i < s.points.length; i++) cv.line(s.points[i - 1][0], s.points[i - 1][1], s.points[i][0], s.points[i][1], c, 2);
    if (s.markers) for (const [x, y] of s.points) cv.disc(x, y, 3, c);
  }
  L.series.forEach((s, i) => {
    const y = L.top + 10 + i * 16;
    cv.line(L.right - 150, y, L.right - 130, y, rgb(s.color), 2);
    cv.text(s.name, L.right - 124, y - 5, 'start', BLACK);
  });
  if (L.title) cv.text(L.title, L.width / 2, 10, 'middle', BLACK);
  if (L.xLabel) cv.text(L.xLabel, (L.left + L.right) / 2, L.height - 16, 'middle', BLACK);
  return encodePng(cv.rgb, L.width, L.height, 3);
}
