import { describe } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';

/**
 * Layout shared by the SVG and PNG renderers: checked series, axis ranges,
 * "nice" ticks and the data -> pixel mapping. Both renderers draw exactly
 * this layout, so an SVG and a PNG of the same chart agree.
 */

export interface Series {
  name: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
  /** CSS color '#rrggbb' (default: the palette in order). */
  color?: string;
}

export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Pixels (default 640 x 400). */
  width?: number;
  height?: number;
  /** Logarithmic axes (every value must then be > 0). */
  logX?: boolean;
  logY?: boolean;
  /** Draw a dot at every point as well as the line (default: when a series has at most 30 points). */
  markers?: boolean;
}

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

export interface Layout {
  width: number;
  height: number;
  /** Plot area in pixels. */
  left: number;
  top: number;
  right: number;
  bottom: number;
  series: { name: string; color: string; points: [number, number][]; markers: boolean }[];
  xTicks: { at: number; label: string }[];
  yTicks: { at: number; label: string }[];
  title: string;
  xLabel: string;
  yLabel: string;
}

function finite(op: string, arg: string, values: ArrayLike<number>, log: boolean): number[] {
  const out = Array.from(values as ArrayLike<number>);
  out.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${op}: ${arg}[${i}] must be a finite number, got ${describe(v)}`);
    if (log && v <= 0) throw new Error(`${op}: ${arg}[${i}] is ${v}, but a logarithmic axis needs values > 0; drop the log option or the point`);
  });
  return out;
}

/** Tick values at 1, 2 or 5 times a power of ten, about `count` of them, from below lo to above hi. */
function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo;
  const raw = span / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let k = Math.floor(lo / step + 1e-9); k <= Math.ceil(hi / step - 1e-9); k++) ticks.push(k * step);
  return ticks;
}

function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(0).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

function axis(values: number[], log: boolean): { lo: number; hi: number; ticks: number[] } {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (log) {
    lo = Math.log10(lo);
    hi = Math.log10(hi);
  }
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  if (log) {
    const decades: number[] = [];
    for (let d = Math.floor(lo); d <= Math.ceil(hi); d++) decades.push(d);
    const ticks = decades.length >= 2 ? decades : [lo, hi];
    return { lo: Math.min(lo, ...ticks), hi: Math.max(hi, ...ticks), ticks };
  }
  const ticks = niceTicks(lo, hi, 5);
  return { lo: Math.min(lo, ticks[0]), hi: Math.max(hi, ticks[ticks.length - 1]), ticks };
}

/** Checks the series and options and computes where everything goes. */
export function layoutChart(op: string, series: readonly Series[], options: ChartOptions | null | undefined): Layout {
  const o = readOptions<ChartOptions>(options ?? {}, op);
  if (!Array.isArray(series) || series.length === 0) throw new Error(`${op}: series must be a non-empty array of { name, x, y }, got ${describe(series)}`);
  const width = o.width ?? 640;
  const height = o.height ?? 400;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 160 || v > 4096) throw new Error(`${op}: ${name} must be an integer in [160, 4096] pixels, got ${describe(v)}`);
  }
  const logX = o.logX === true;
  const logY = o.logY === true;
  const checked = series.map((s, i) => {
    if (s === null || typeof s !== 'object') throw new Error(`${op}: series[${i}] must be { name, x, y }, got ${describe(s)}`);
    if (typeof s.name !== 'string') throw new Error(`${op}: series[${i}].name must be a string, got ${describe(s.name)}`);
    const x = finite(op, `series[${i}].x`, s.x ?? [], logX);
    const y = finite(op, `series[${i}].y`, s.y ?? [], logY);
    if (x.length !== y.length || x.length === 0) throw new Error(`${op}: series[${i}] ('${s.name}') needs x and y of the same non-zero length, got ${x.length} and ${y.length}`);
    const color = s.color ?? PALETTE[i % PALETTE.length];
    if (!/^#[0-9a-fA-F]{6}$/.test(color)) throw new Error(`${op}: series[${i}].color must look like '#1f77b4', got ${describe(color)}`);
    return { name: s.name, color, x, y };
  });
  const ax = axis(checked.flatMap((s) => s.x), logX);
  const ay = axis(checked.flatMap((s) => s.y), logY);
  const left = 64;
  const right = width - 16;
  const top = o.title ? 36 : 16;
  const bottom = height - (o.xLabel ? 48 : 32);
  const px = (v: number) => left + ((logX ? Math.log10(v) : v) - ax.lo) / (ax.hi - ax.lo) * (right - left);
  const py = (v: number) => bottom - ((logY ? Math.log10(v) : v) - ay.lo) / (ay.hi - ay.lo) * (bottom - top);
  const tickPos = (t: number, lo: number, hi: number, a: number, b: number) => a + (t - lo) / (hi - lo) * (b - a);
  return {
    width, height, left, top, right, bottom,
    series: checked.map((s) => ({
      name: s.name,
      color: s.color,
      points: s.x.map((x, k) => [px(x), py(s.y[k])] as [number, number]),
      markers: o.markers ?? s.x.length <= 30,
    })),
    xTicks: ax.ticks.map((t) => ({ at: tickPos(t, ax.lo, ax.hi, left, right), label: logX ? label(10 ** t) : label(t) })),
    yTicks: ay.ticks.map((t) => ({ at: tickPos(t, ay.lo, ay.hi, bottom, top), label: logY ? label(10 ** t) : label(t) })),
    title: o.title ?? '',
    xLabel: o.xLabel ?? '',
    yLabel: o.yLabel ?? '',
  };
}
