import { layoutChart, type ChartOptions, type Series } from './chart.js';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const f = (v: number) => Number(v.toFixed(2));

/** A line chart of the series as a standalone SVG document (a string; write it to a .svg file). */
export function lineChartSvg(series: readonly Series[], options: ChartOptions | null = {}): string {
  const L = layoutChart('lineChartSvg', series, options);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${L.width}" height="${L.height}" fill="#ffffff"/>`);
  for (const t of L.xTicks) {
    out.push(`<line x1="${f(t.at)}" y1="${L.top}" x2="${f(t.at)}" y2="${L.bottom}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${f(t.at)}" y="${L.bottom + 16}" text-anchor="middle">${esc(t.label)}</text>`);
  }
  for (const t of L.yTicks) {
    out.push(`<line x1="${L.left}" y1="${f(t.at)}" x2="${L.right}" y2="${f(t.at)}" stroke="#e0e0e0"/>`);
    out.push(`<text x="${L.left - 6}" y="${f(t.at + 4)}" text-anchor="end">${esc(t.label)}</text>`);
  }
  out.push(`<rect x="${L.left}" y="${L.top}" width="${L.right - L.left}" height="${L.bottom - L.top}" fill="none" stroke="#000000"/>`);
  for (const s of L.series) {
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map(([x, y]) => `${f(x)},${f(y)}`).join(' ')}"/>`);
    if (s.markers) for (const [x, y] of s.points) out.push(`<circle cx="${f(x)}" cy="${f(y)}" r="3" fill="${s.color}"/>`);
  }
  L.series.forEach((s, i) => {
    const y = L.top + 14 + i * 16;
    out.push(`<line x1="${L.right - 150}" y1="${y - 4}" x2="${L.right - 130}" y2="${y - 4}" stroke="${s.color}" stroke-width="2"/>`);
    out.push(`<text x="${L.right - 124}" y="${y}">${esc(s.name)}</text>`);
  });
  if (L.title) out.push(`<text x="${L.width / 2}" y="22" text-anchor="middle" font-size="14">${esc(L.title)}</text>`);
  if (L.xLabel) out.push(`<text x="${(L.left + L.right) / 2}" y="${L.height - 10}" text-anchor="middle">${esc(L.xLabel)}</text>`);
  if (L.yLabel) out.push(`<text x="14" y="${(L.top + L.bottom) / 2}" text-anchor="middle" transform="rotate(-90 14 ${(L.top + L.bottom) / 2})">${esc(L.yLabel)}</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
