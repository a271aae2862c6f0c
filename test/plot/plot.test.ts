import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { encodePng, lineChartPng, lineChartSvg } from '../../src/plot/index.js';
import { layoutChart } from '../../src/plot/chart.js';

/** Decodes a PNG written by encodePng (filter 0 on every row) back to pixels, with node's zlib as the independent inflater. */
function decodePng(bytes: Uint8Array): { width: number; height: number; channels: number; pixels: Uint8Array } {
  expect([...bytes.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  let width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  while (at < bytes.length) {
    const len = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + len);
    if (type === 'IHDR') {
      width = view.getUint32(at + 8);
      height = view.getUint32(at + 12);
      channels = ({ 0: 1, 2: 3, 6: 4 } as Record<number, number>)[data[9]];
    }
    if (type === 'IDAT') idat.push(data);
    at += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (stride + 1)]).toBe(0);
    pixels.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return { width, height, channels, pixels };
}

describe('plot', () => {
  const series = [
    { name: 'train', x: [0, 1, 2, 3, 4], y: [1, 0.5, 0.25, 0.2, 0.1] },
    { name: 'test', x: [0, 2, 4], y: [1.1, 0.4, 0.3], color: '#00ff00' },
  ];

  it('lays out nice ticks and maps data to the plot area', () => {
    const L = layoutChart('t', series, { width: 400, height: 300 });
    expect(L.xTicks.map((t) => t.label)).toEqual(['0', '1', '2', '3', '4']);
    expect(L.yTicks.map((t) => t.label)).toEqual(['0', '0.2', '0.4', '0.6', '0.8', '1', '1.2']);
    // x = 0 is the left edge, y = 0 the bottom edge (0 is a tick, so it is the axis minimum)
    expect(L.series[0].points[0][0]).toBe(L.left);
    expect(L.series[0].points[4][0]).toBe(L.right);
    const y0 = L.bottom - (1 / 1.2) * (L.bottom - L.top);
    expect(L.series[0].points[0][1]).toBeCloseTo(y0, 9);
    const logL = layoutChart('t', [{ name: 'r', x: [1, 10, 1000], y: [3, 2, 1] }], { logX: true });
    expect(logL.xTicks.map((t) => t.label)).toEqual(['1', '10', '100', '1000']);
  });

  it('writes an SVG with one polyline per series, escaped text and the layout points', () => {
    const svg = lineChartSvg(series, { title: 'loss <train & test>', xLabel: 'epoch', yLabel: 'loss' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/<polyline /g)!.length).toBe(2);
    expect(svg).toContain('loss &lt;train &amp; test&gt;');
    expect(svg).toContain('stroke="#00ff00"');
    const L = layoutChart('t', series, { title: 'x', xLabel: 'epoch' });
    const first = L.series[1].points.map(([x, y]) => `${Number(x.toFixed(2))},${Number(y.toFixed(2))}`).join(' ');
    expect(svg).toContain(`points="${first}"`);
  });

  it('rasterizes the same chart to a PNG whose line pixels carry the series colour', async () => {
    const png = await lineChartPng(series, { width: 320, height: 200 });
    const img = decodePng(png);
    expect([img.width, img.height, img.channels]).toEqual([320, 200, 3]);
    const L = layoutChart('t', series, { width: 320, height: 200 });
    const [x, y] = L.series[1].points[1];
    const at = (Math.round(y) * img.width + Math.round(x)) * 3;
    expect([...img.pixels.subarray(at, at + 3)]).toEqual([0, 255, 0]);
    expect([...img.pixels.subarray(0, 3)]).toEqual([255, 255, 255]);
  });

  it('encodePng round-trips gray and RGBA pixels through an independent inflater', async () => {
    const gray = Uint8Array.from({ length: 7 * 3 }, (_, i) => (i * 37) & 255);
    const g = decodePng(await encodePng(gray, 7, 3, 1));
    expect([g.width, g.height, g.channels]).toEqual([7, 3, 1]);
    expect([...g.pixels]).toEqual([...gray]);
    const rgba = Uint8Array.from({ length: 2 * 5 * 4 }, (_, i) => (i * 11) & 255);
    expect([...decodePng(await encodePng(rgba, 2, 5, 4)).pixels]).toEqual([...rgba]);
  });

  it('rejects bad input with the function and argument named', async () => {
    expect(() => lineChartSvg([], {})).toThrow(/lineChartSvg: series must be a non-empty array/);
    expect(() => lineChartSvg([{ name: 'a', x: [1, 2], y: [1] }])).toThrow(/lineChartSvg: series\[0\] \('a'\) needs x and y of the same non-zero length, got 2 and 1/);
    expect(() => lineChartSvg([{ name: 'a', x: [1, NaN], y: [1, 2] }])).toThrow(/lineChartSvg: series\[0\]\.x\[1\] must be a finite number/);
    expect(() => lineChartSvg([{ name: 'a', x: [0, 1], y: [1, 2] }], { logX: true })).toThrow(/logarithmic axis needs values > 0/);
    expect(() => lineChartSvg([{ name: 'a', x: [0], y: [1], color: 'red' }])).toThrow(/color must look like '#1f77b4'/);
    expect(() => lineChartSvg(series, { width: 10 })).toThrow(/lineChartSvg: width must be an integer in \[160, 4096\]/);
    await expect(lineChartPng(series, { height: 1e6 })).rejects.toThrow(/lineChartPng: height/);
    await expect(encodePng(new Uint8Array(5), 2, 2, 1)).rejects.toThrow(/encodePng: pixels has 5 bytes, but 2 x 2 x 1 channels needs 4/);
    await expect(encodePng(new Uint8Array(4), 2, 2, 2 as never)).rejects.toThrow(/encodePng: channels must be 1/);
  });
});
