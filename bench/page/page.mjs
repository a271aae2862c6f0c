// The benchmark page: runs the kernel suite in this browser, then draws the
// saved Node results (bench/results/*.json) as bar charts and tables.
// Everything it shows is also written as JSON into <pre id="results">.
import * as sg from '../../dist/snapgrad.js';
import { cellNumber, runSuite, savedKernelValues } from './suite.mjs';

const COLORS = ['#1f6feb', '#e8590c', '#2f9e44', '#ae3ec9', '#868e96'];
const statusEl = document.getElementById('status');
const live = document.getElementById('live');
const saved = document.getElementById('saved');
const resultsEl = document.getElementById('results');

function el(tag, props = {}, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
}

/**
 * Grouped bar chart on a canvas: one group per label, one bar per series,
 * each bar labelled with its value. Returns the canvas.
 */
function barChart({ title, unit, groups, series }) {
  const width = 960;
  const height = 300;
  const canvas = el('canvas', { width, height });
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const left = 56, right = 10, top = 40, bottom = 70;
  const plotW = width - left - right, plotH = height - top - bottom;
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  ctx.fillStyle = '#222';
  ctx.font = 'bold 14px system-ui, sans-serif';
  ctx.fillText(title, left, 18);
  // legend
  ctx.font = '12px system-ui, sans-serif';
  let lx = left;
  series.forEach((s, i) => {
    ctx.fillStyle = COLORS[i % COLORS.length];
    ctx.fillRect(lx, 26, 10, 10);
    ctx.fillStyle = '#222';
    ctx.fillText(s.name, lx + 14, 35);
    lx += ctx.measureText(s.name).width + 30;
  });
  // axis and grid
  ctx.strokeStyle = '#ccc';
  ctx.fillStyle = '#555';
  ctx.font = '11px system-ui, sans-serif';
  for (let t = 0; t <= 4; t++) {
    const y = top + plotH - (plotH * t) / 4;
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(width - right, y); ctx.stroke();
    ctx.fillText(formatValue((max * t) / 4), 4, y + 4);
  }
  ctx.save();
  ctx.translate(12, top + plotH / 2 + 30);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(unit, 0, 0);
  ctx.restore();
  const groupW = plotW / Math.max(1, groups.length);
  const barW = Math.max(2, Math.min(40, (groupW * 0.8) / series.length));
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[gi];
      if (!Number.isFinite(v)) return;
      const h = (plotH * v) / max;
      const x = x0 + si * barW;
      ctx.fillStyle = COLORS[si % COLORS.length];
      ctx.fillRect(x, top + plotH - h, barW - 1, h);
      ctx.fillStyle = '#222';
      ctx.save();
      ctx.translate(x + barW / 2 + 3, top + plotH - h - 3);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(formatValue(v), 0, 0);
      ctx.restore();
    });
    ctx.fillStyle = '#333';
    ctx.save();
    ctx.translate(left + gi * groupW + groupW / 2, top + plotH + 6);
    ctx.rotate(Math.PI / 9);
    ctx.fillText(g, 0, 8);
    ctx.restore();
  });
  return canvas;
}

function formatValue(v) {
  if (v >= 1e5) return `${Math.round(v / 1000)}k`;
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(v >= 1 ? 2 : 3);
}

function table(rows, columns = Object.keys(rows[0] ?? {})) {
  return el('table', {},
    el('tr', {}, ...columns.map((c) => el('th', { textContent: c }))),
    ...rows.map((r) => el('tr', {}, ...columns.map((c) => el('td', { textContent: String(r[c] ?? '') })))));
}

async function fetchJson(name) {
  const response = await fetch(new URL(`../results/${name}`, import.meta.url));
  return response.ok ? response.json() : null;
}

/** One chart per suite of bench/results/kernels.json: its shapes, snapgrad against its peers ([series name, column]). */
const SUITE_CHARTS = [
  { suite: 'binary', title: 'Binary GEMM (Node): XNOR-popcount vs plain JS vs snapgrad f32 on the same shape', unit: 'G op/s',
    group: (r) => r.shape, series: [['snapgrad binary', 'snapgrad binary'], ['plain JS', 'plain JS'], ['snapgrad f32', 'snapgrad f32 (GFLOP/s)']] },
  { suite: 'int8', title: 'int8 GEMM (Node): snapgrad s8·s8 vs onnxruntime-web MatMulInteger', unit: 'GOP/s',
    group: (r) => r.shape, series: [['snapgrad s8·s8', 'snapgrad s8·s8'], ['ort s8·s8', 'ort s8·s8'], ['ort u8·s8', 'ort u8·s8']] },
  { suite: 'u8b1', title: 'uint8 x 1-bit GEMM (Node): snapgrad vs the same product as int8 GEMMs (snapgrad, onnxruntime-web)', unit: 'GOP/s',
    group: (r) => r.shape, series: [['snapgrad u8·1-bit', 'snapgrad u8·1-bit'], ['snapgrad s8·s8', 'snapgrad s8·s8 (same product)'], ['ort u8·s8', 'ort u8·s8 (±1 weights)']] },
  { suite: 'quant', title: 'Rounding and quantization (Node): snapgrad vs tfjs-wasm vs onnxruntime-web vs plain JS', unit: 'G elements/s',
    group: (r) => `${r.kernel} n=${r.n}`, series: [['snapgrad', 'snapgrad'], ['tfjs-wasm', 'tfjs-wasm'], ['onnxruntime-web', 'onnxruntime-web'], ['plain JS', 'plain JS']] },
  { suite: 'vq', title: 'VQ nearest code (Node): snapgrad vs tfjs-wasm vs plain JS', unit: 'k vectors/s', scale: 1 / 1000,
    group: (r) => r['N x D, K codes'], series: [['snapgrad', 'snapgrad vec/s'], ['tfjs-wasm', 'tfjs-wasm vec/s'], ['plain JS', 'plain JS vec/s']] },
];

function chartOf(rows, { title, unit, group, series, scale = 1 }) {
  return { title, unit, groups: rows.map(group), series: series.map(([name, col]) => ({ name, values: rows.map((r) => cellNumber(r[col]) * scale) })) };
}

/** Charts of bench/results/kernels.json: each suite's shapes, snapgrad against its peers. */
function kernelCharts(kernels) {
  const s = kernels.suites ?? {};
  const charts = [];
  // Three shapes (twelve transpose forms) per chart keep the bars readable.
  for (let i = 0; i < (s.f32?.length ?? 0); i += 12) {
    charts.push(chartOf(s.f32.slice(i, i + 12), {
      title: 'f32 GEMM (Node): snapgrad vs tfjs-wasm vs plain JS, per shape and transpose form', unit: 'GFLOP/s',
      group: (r) => `${r['shape MxNxK']} ${r.form}`,
      series: [['snapgrad', 'snapgrad GFLOP/s'], ['tfjs-wasm', 'tfjs-wasm GFLOP/s'], ['plain JS', 'plain JS GFLOP/s']],
    }));
  }
  for (const spec of SUITE_CHARTS) if (s[spec.suite]?.length) charts.push(chartOf(s[spec.suite], spec));
  return charts;
}

async function main() {
  const info = await sg.init({ threads: 1 }); // single thread, like the tfjs-wasm contenders; bench/threads.mjs measures threads
  statusEl.textContent = `running the kernel suite in this browser (${info.build}, ${info.runtime})…`;
  const out = { state: 'running', userAgent: navigator.userAgent, build: info.build, live: [], saved: {}, charts: [] };
  // Let the status line paint before the synchronous suite runs.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const rows = runSuite(sg);
  out.live = rows.map((r) => ({ ...r, value: Number(r.value.toFixed(3)), ms: Number(r.ms.toFixed(3)) }));
  live.append(el('h2', { textContent: 'Kernels in this browser (live)' }), table(out.live, ['kernel', 'shape', 'unit', 'value', 'ms']));

  const [kernels, training, inference, crossRuntime] = await Promise.all(['kernels.json', 'training.json', 'inference.json', 'cross-runtime.json'].map(fetchJson));
  out.saved = { kernels: !!kernels, training: !!training, inference: !!inference, crossRuntime: !!crossRuntime };
  const nodeValues = kernels ? savedKernelValues(kernels) : {};

  const charts = [];
  for (const unit of [...new Set(rows.map((r) => r.unit))]) {
    const sel = rows.filter((r) => r.unit === unit);
    const series = [{ name: 'this browser', values: sel.map((r) => r.value) }];
    if (kernels) series.push({ name: `Node (${kernels.date?.slice(0, 10) ?? 'saved'})`, values: sel.map((r) => nodeValues[r.key] ?? NaN) });
    charts.push({ title: `${sel[0].kernel === 'f32 matmul' ? 'f32 matmul, every transpose form' : sel.map((r) => r.kernel).join(', ')}: this browser vs saved Node run`, unit, groups: sel.map((r) => r.shape), series, target: live });
  }

  // Cross-runtime table: this browser, the saved Node run and whatever run-all.mjs collected.
  const runtimes = { 'this browser': Object.fromEntries(rows.map((r) => [r.key, r.value])) };
  if (kernels) runtimes['Node (saved)'] = nodeValues;
  for (const [name, values] of Object.entries(crossRuntime?.runtimes ?? {})) runtimes[`${name} (run-all)`] = values;
  const crossRows = rows.map((r) => {
    const row = { kernel: `${r.kernel} ${r.shape}`, unit: r.unit };
    for (const [name, values] of Object.entries(runtimes)) row[name] = Number.isFinite(values[r.key]) ? formatValue(values[r.key]) : '';
    if (kernels && Number.isFinite(nodeValues[r.key])) row['browser / Node'] = `${((100 * r.value) / nodeValues[r.key]).toFixed(0)}%`;
    return row;
  });
  saved.append(el('h2', { textContent: 'Cross-runtime table' }),
    el('p', { className: 'note', textContent: crossRuntime ? `run-all.mjs results from ${crossRuntime.date}.` : 'No bench/results/cross-runtime.json yet (node bench/run-all.mjs writes it); showing this browser and the saved Node run.' }),
    table(crossRows));
  out.crossRuntime = crossRows;

  if (kernels) {
    saved.append(el('h2', { textContent: `Saved kernel results (Node, ${kernels.date}) against peers` }));
    for (const c of kernelCharts(kernels)) charts.push({ ...c, target: saved });
  }
  if (training) {
    const names = Object.keys(training.msPerStep);
    charts.push({ title: `Training step, BNN 784-1024-1024-10, batch ${training.batch} (Node, ${training.date.slice(0, 10)}); lower is better`, unit: 'ms/step',
      groups: names, series: [{ name: 'ms per step', values: names.map((n) => training.msPerStep[n]) }], target: saved });
  }
  if (inference) {
    for (const [batch, { ms }] of Object.entries(inference.byBatch)) {
      const names = Object.keys(ms);
      charts.push({ title: `Inference, batch ${batch} (Node, ${inference.date.slice(0, 10)}); lower is better`, unit: 'ms',
        groups: names, series: [{ name: 'ms per batch', values: names.map((n) => ms[n]) }], target: saved });
    }
  }
  // The binary-CNN benchmarks (bench/training-cnn.mjs, bench/inference-cnn.mjs), when saved.
  const [trainingCnn, inferenceCnn] = await Promise.all(['training-cnn.json', 'inference-cnn.json'].map(fetchJson));
  out.saved.trainingCnn = !!trainingCnn;
  out.saved.inferenceCnn = !!inferenceCnn;
  if (trainingCnn) {
    const names = Object.keys(trainingCnn.msPerStep);
    charts.push({ title: `Training step, binary CNN (mnist-bcnn), batch ${trainingCnn.batch} (Node, ${trainingCnn.date.slice(0, 10)}); lower is better`, unit: 'ms/step',
      groups: names, series: [{ name: 'ms per step', values: names.map((n) => trainingCnn.msPerStep[n]) }], target: saved });
  }
  if (inferenceCnn) {
    for (const [batch, { ms }] of Object.entries(inferenceCnn.byBatch)) {
      const names = Object.keys(ms);
      charts.push({ title: `Inference, binary CNN (mnist-bcnn), batch ${batch} (Node, ${inferenceCnn.date.slice(0, 10)}); lower is better`, unit: 'ms',
        groups: names, series: [{ name: 'ms per batch', values: names.map((n) => ms[n]) }], target: saved });
    }
  }
  for (const c of charts) {
    c.target.append(barChart(c));
    out.charts.push({ title: c.title, unit: c.unit, groups: c.groups, series: c.series.map((s) => ({ name: s.name, values: s.values.map((v) => (Number.isFinite(v) ? Number(v.toFixed(4)) : null)) })) });
  }
  out.state = 'done';
  statusEl.textContent = `done: ${rows.length} kernels measured here, ${charts.length} charts.`;
  resultsEl.textContent = JSON.stringify(out, null, 1);
  resultsEl.dataset.state = 'done';
}

main().catch((err) => {
  statusEl.textContent = `failed: ${err?.message ?? err}`;
  resultsEl.textContent = JSON.stringify({ state: 'error', error: String(err?.stack ?? err) });
  resultsEl.dataset.state = 'error';
});
