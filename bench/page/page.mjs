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
  const canvas = el('canvas', { width, height: 300 });
  const ctx = canvas.getContext('2d');
  const left = 56, right = 10, bottom = 70;
  // Legend entries (which name their thread counts) wrap onto more lines rather than run off the canvas.
  ctx.font = '12px system-ui, sans-serif';
  const legend = [];
  let lx = left, ly = 35;
  for (const s of series) {
    const w = ctx.measureText(s.name).width + 30;
    if (lx > left && lx + w > width - right) { lx = left; ly += 16; }
    legend.push([lx, ly]);
    lx += w;
  }
  // The tallest bar's value label (rotated, up to ~30 px) stays below the legend.
  const top = ly + 35;
  const height = top + 190 + bottom;
  canvas.height = height; // resets the context, so drawing starts after this
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const plotW = width - left - right, plotH = height - top - bottom;
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  ctx.fillStyle = '#222';
  ctx.font = 'bold 14px system-ui, sans-serif';
  ctx.fillText(title, left, 18);
  ctx.font = '12px system-ui, sans-serif';
  series.forEach((s, i) => {
    const [x, y] = legend[i];
    ctx.fillStyle = COLORS[i % COLORS.length];
    ctx.fillRect(x, y - 9, 10, 10);
    ctx.fillStyle = '#222';
    ctx.fillText(s.name, x + 14, y);
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

/** "1 thread", "2 threads", or "threads ?" where a saved run did not record it. */
function threadsLabel(n) {
  return n === '?' ? 'threads ?' : `${n} thread${n === 1 ? '' : 's'}`;
}

// The threads build landed at this commit time (dc694bb). Results written before it ran on one
// thread: the library had no worker pool, and every writer pinned its peers (tfjs setThreadsCount(1),
// onnxruntime-web numThreads = 1; plain JS has one). Later files without a count show "?".
const THREADS_BUILD_LANDED = '2026-12-02T07:57:40Z';

/**
 * The thread count a saved result file records for a contender ('snapgrad', 'tfjs', 'ort',
 * 'plain JS') or a runtime (cross-runtime.json: 'node', 'deno', ...): 1 for files older than
 * the threads build, '?' where a newer file does not say.
 */
function savedThreads(json, who) {
  if (json?.threads && typeof json.threads === 'object') return json.threads[who] ?? '?';
  return typeof json?.date === 'string' && json.date < THREADS_BUILD_LANDED ? 1 : '?';
}

/** The contender a saved series or implementation name belongs to. */
function contenderOf(name) {
  if (name.startsWith('snapgrad')) return 'snapgrad';
  if (name.startsWith('tfjs')) return 'tfjs';
  if (name.startsWith('ort') || name.startsWith('onnxruntime')) return 'ort';
  return name;
}

/** A series of one result file: its name carries the contender's thread count. */
function savedSeries(json, name, values) {
  const threads = savedThreads(json, contenderOf(name));
  return { name: `${name}, ${threadsLabel(threads)}`, threads, values };
}

/** One chart for a {contender: ms} map: one bar per contender, so each legend entry names its threads. */
function perContenderChart(json, title, unit, group, ms) {
  return { title, unit, groups: [group], series: Object.entries(ms).map(([n, v]) => savedSeries(json, n, [v])) };
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

function chartOf(kernels, rows, { title, unit, group, series, scale = 1 }) {
  return { title, unit, groups: rows.map(group), series: series.map(([name, col]) => savedSeries(kernels, name, rows.map((r) => cellNumber(r[col]) * scale))) };
}

/** Charts of bench/results/kernels.json: each suite's shapes, snapgrad against its peers. */
function kernelCharts(kernels) {
  const s = kernels.suites ?? {};
  const charts = [];
  // Three shapes (twelve transpose forms) per chart keep the bars readable.
  for (let i = 0; i < (s.f32?.length ?? 0); i += 12) {
    charts.push(chartOf(kernels, s.f32.slice(i, i + 12), {
      title: 'f32 GEMM (Node): snapgrad vs tfjs-wasm vs plain JS, per shape and transpose form', unit: 'GFLOP/s',
      group: (r) => `${r['shape MxNxK']} ${r.form}`,
      series: [['snapgrad', 'snapgrad GFLOP/s'], ['tfjs-wasm', 'tfjs-wasm GFLOP/s'], ['plain JS', 'plain JS GFLOP/s']],
    }));
  }
  for (const spec of SUITE_CHARTS) if (s[spec.suite]?.length) charts.push(chartOf(kernels, s[spec.suite], spec));
  return charts;
}

async function main() {
  // One thread by default, like the saved single-thread tables; ?threads=N asks for more, which
  // the threads build gives only on a cross-origin isolated page (served with COOP/COEP).
  const requested = Number(new URLSearchParams(location.search).get('threads') ?? 1);
  const info = await sg.init({ threads: requested });
  const ran = `build ${info.build}, ${threadsLabel(info.threads)}`;
  const why = info.threads < requested ? ` (asked for ${requested}: ${info.threadsReason})` : '';
  statusEl.textContent = `running the kernel suite in this browser (${ran}${why}, ${info.runtime})…`;
  const out = { state: 'running', userAgent: navigator.userAgent, build: info.build, threads: info.threads, requestedThreads: requested,
    threadsReason: info.threadsReason, crossOriginIsolated: globalThis.crossOriginIsolated === true, live: [], saved: {}, charts: [] };
  // Let the status line paint before the synchronous suite runs.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const rows = runSuite(sg);
  out.live = rows.map((r) => ({ ...r, value: Number(r.value.toFixed(3)), ms: Number(r.ms.toFixed(3)) }));
  live.append(el('h2', { textContent: `Kernels in this browser (live): ${ran}` }),
    el('p', { className: 'note', id: 'live-threads', textContent: `snapgrad ran ${info.build} with ${threadsLabel(info.threads)}${why}; the page is ${out.crossOriginIsolated ? '' : 'not '}cross-origin isolated.` }),
    table(out.live, ['kernel', 'shape', 'unit', 'value', 'ms', 'threads']));

  const [kernels, training, inference, crossRuntime] = await Promise.all(['kernels.json', 'training.json', 'inference.json', 'cross-runtime.json'].map(fetchJson));
  out.saved = { kernels: !!kernels, training: !!training, inference: !!inference, crossRuntime: !!crossRuntime };
  const nodeValues = kernels ? savedKernelValues(kernels) : {};

  const charts = [];
  for (const unit of [...new Set(rows.map((r) => r.unit))]) {
    const sel = rows.filter((r) => r.unit === unit);
    const series = [{ name: `this browser, ${threadsLabel(info.threads)}`, threads: info.threads, values: sel.map((r) => r.value) }];
    if (kernels) series.push({ ...savedSeries(kernels, 'snapgrad', sel.map((r) => nodeValues[r.key] ?? NaN)), name: `Node (${kernels.date?.slice(0, 10) ?? 'saved'}), ${threadsLabel(savedThreads(kernels, 'snapgrad'))}` });
    charts.push({ title: `${sel[0].kernel === 'f32 matmul' ? 'f32 matmul, every transpose form' : sel.map((r) => r.kernel).join(', ')}: this browser vs saved Node run`, unit, groups: sel.map((r) => r.shape), series, target: live });
  }

  // Cross-runtime table: this browser, the saved Node run and whatever run-all.mjs collected.
  const runtimes = { 'this browser': { values: Object.fromEntries(rows.map((r) => [r.key, r.value])), threads: info.threads } };
  if (kernels) runtimes['Node (saved)'] = { values: nodeValues, threads: savedThreads(kernels, 'snapgrad') };
  for (const [name, values] of Object.entries(crossRuntime?.runtimes ?? {})) runtimes[`${name} (run-all)`] = { values, threads: savedThreads(crossRuntime, name) };
  // One count when every column ran alike, else each column's.
  const counts = Object.values(runtimes).map((r) => r.threads);
  const crossThreads = counts.every((n) => n === counts[0]) ? String(counts[0]) : Object.entries(runtimes).map(([name, r]) => `${name}: ${r.threads}`).join(', ');
  const crossRows = rows.map((r) => {
    const row = { kernel: `${r.kernel} ${r.shape}`, unit: r.unit, threads: crossThreads };
    for (const [name, { values }] of Object.entries(runtimes)) row[name] = Number.isFinite(values[r.key]) ? formatValue(values[r.key]) : '';
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
    charts.push({ ...perContenderChart(training, `Training step, BNN 784-1024-1024-10, batch ${training.batch} (Node, ${training.date.slice(0, 10)}); lower is better`,
      'ms/step', `batch ${training.batch}`, training.msPerStep), target: saved });
  }
  if (inference) {
    for (const [batch, { ms }] of Object.entries(inference.byBatch)) {
      charts.push({ ...perContenderChart(inference, `Inference, batch ${batch} (Node, ${inference.date.slice(0, 10)}); lower is better`, 'ms', `batch ${batch}`, ms), target: saved });
    }
  }
  // The binary-CNN benchmarks (bench/training-cnn.mjs, bench/inference-cnn.mjs), when saved.
  const [trainingCnn, inferenceCnn] = await Promise.all(['training-cnn.json', 'inference-cnn.json'].map(fetchJson));
  out.saved.trainingCnn = !!trainingCnn;
  out.saved.inferenceCnn = !!inferenceCnn;
  if (trainingCnn) {
    charts.push({ ...perContenderChart(trainingCnn, `Training step, binary CNN (mnist-bcnn), batch ${trainingCnn.batch} (Node, ${trainingCnn.date.slice(0, 10)}); lower is better`,
      'ms/step', `batch ${trainingCnn.batch}`, trainingCnn.msPerStep), target: saved });
  }
  if (inferenceCnn) {
    for (const [batch, { ms }] of Object.entries(inferenceCnn.byBatch)) {
      charts.push({ ...perContenderChart(inferenceCnn, `Inference, binary CNN (mnist-bcnn), batch ${batch} (Node, ${inferenceCnn.date.slice(0, 10)}); lower is better`, 'ms', `batch ${batch}`, ms), target: saved });
    }
  }
  // Relaxed vs plain builds (bench/relaxed.mjs) and 1 vs 2 threads (bench/threads.mjs), when saved: one
  // chart per thread count, and table rows in long form so each row holds one count.
  const sections = el('div');
  const [relaxed, threadsRun] = await Promise.all(['relaxed.json', 'threads.json'].map(fetchJson));
  out.saved.relaxed = !!relaxed;
  out.saved.threads = !!threadsRun;
  if (relaxed) {
    const div = el('div');
    sections.append(div);
    div.append(el('h2', { textContent: `Relaxed SIMD vs plain SIMD builds (Deno, Chromium; ${relaxed.date.slice(0, 10)})` }),
      el('p', { className: 'note', textContent: 'Values in parentheses come from a build forced past a failed correctness probe (wrong results on this CPU); the charts leave them out.' }),
      table(relaxed.rows, ['runtime', 'threads', 'kernel', 'M x K x N', 'plain GOP/s', 'relaxed GOP/s', 'relaxed / plain', 'per CPU-second']));
    for (const t of [...new Set(relaxed.rows.map((r) => r.threads))]) {
      const rows = relaxed.rows.filter((r) => r.threads === t);
      charts.push({ title: `Relaxed vs plain build, ${threadsLabel(t)} (wall clock)`, unit: 'GOP/s', groups: rows.map((r) => `${r.runtime} ${r.kernel} ${r['M x K x N']}`),
        series: ['plain', 'relaxed'].map((b) => ({ name: `${b}, ${threadsLabel(t)}`, threads: t, values: rows.map((r) => cellNumber(r[`${b} GOP/s`])) })), target: div });
    }
  }
  if (threadsRun) {
    const div = el('div');
    sections.append(div);
    const col = (t) => (t === 1 ? '1 thread' : `${t} threads`);
    const counts = threadsRun.threads?.snapgrad ?? [1, 2];
    // Files without the record: setThreads(1) gives 1 thread with or without a pool, but a "2 threads" column was
    // not checked then (setThreads(2) without a pool also gives 1), so it shows "?".
    const shown = (t) => (threadsRun.threads?.snapgrad || t === 1 ? t : '?');
    const long = threadsRun.rows.flatMap((r) => counts.map((t) => ({ kernel: r.kernel, shape: r.shape, unit: r.unit, threads: shown(t),
      ms: r[`${col(t)} ms`], rate: r[`${col(t)} rate`], 'vs 1 thread': `${(cellNumber(r['1 thread ms']) / cellNumber(r[`${col(t)} ms`])).toFixed(2)}x`,
      // Two independent single-thread instances against one, from the same run (files before it have none).
      'ceiling (2 independent)': t === 2 ? r['ceiling (2 independent)'] ?? '' : '' })));
    div.append(el('h2', { textContent: `snapgrad at ${counts.join(' and ')} threads (Node, ${threadsRun.build}, ${threadsRun.date.slice(0, 10)})` }), table(long));
    for (const unit of [...new Set(threadsRun.rows.map((r) => r.unit))]) {
      const rows = threadsRun.rows.filter((r) => r.unit === unit);
      charts.push({ title: `snapgrad at ${counts.join(' and ')} threads (Node): ${unit}`, unit, groups: rows.map((r) => `${r.kernel} ${r.shape}`),
        series: counts.map((t) => ({ name: `snapgrad, ${threadsLabel(shown(t))}`, threads: shown(t), values: rows.map((r) => cellNumber(r[`${col(t)} rate`])) })), target: div });
    }
    // Peers at equal thread counts: a peer's bars appear only where it reported running that many threads.
    const peers = [['tfjs', 'tfjs-wasm', threadsRun.peerRows ?? [], 'GFLOP/s'], ['ort', 'ort', threadsRun.ortRow ? [threadsRun.ortRow] : [], 'GOP/s']];
    for (const [key, label, rows, unit] of peers) {
      if (!rows.length) continue;
      const ran = (t) => threadsRun.threads?.[key]?.[t] ?? '?';
      div.append(table(rows.flatMap((r) => counts.map((t) => ({ kernel: r.kernel, shape: r.shape, threads: shown(t),
        [`snapgrad ${unit}`]: r[`snapgrad ${t}T ${unit}`], [`${label} ${unit}`]: r[`${label} ${t}T ${unit}`], [`${label} ran threads`]: ran(t), ratio: r[`ratio ${t}T`] })))));
      const series = [];
      for (const t of counts) {
        series.push({ name: `snapgrad, ${threadsLabel(shown(t))}`, threads: shown(t), values: rows.map((r) => cellNumber(r[`snapgrad ${t}T ${unit}`])) });
        if (ran(t) === t) series.push({ name: `${label}, ${threadsLabel(t)}`, threads: t, values: rows.map((r) => cellNumber(r[`${label} ${t}T ${unit}`])) });
      }
      charts.push({ title: `snapgrad vs ${label} at equal thread counts (Node)`, unit, groups: rows.map((r) => r.shape), series, target: div });
    }
  }
  for (const c of charts) {
    c.target.append(barChart(c));
    out.charts.push({ title: c.title, unit: c.unit, groups: c.groups, series: c.series.map((s) => ({ name: s.name, threads: s.threads, values: s.values.map((v) => (Number.isFinite(v) ? Number(v.toFixed(4)) : null)) })) });
  }
  saved.append(sections);
  out.state = 'done';
  statusEl.textContent = `done: ${rows.length} kernels measured here (${ran}${why}), ${charts.length} charts.`;
  resultsEl.textContent = JSON.stringify(out, null, 1);
  resultsEl.dataset.state = 'done';
}

main().catch((err) => {
  statusEl.textContent = `failed: ${err?.message ?? err}`;
  resultsEl.textContent = JSON.stringify({ state: 'error', error: String(err?.stack ?? err) });
  resultsEl.dataset.state = 'error';
});
