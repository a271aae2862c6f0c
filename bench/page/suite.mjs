// The kernel suite that runs in any runtime with a global `performance`
// (browsers, Deno, workerd, Node): the public snapgrad kernels on the shapes
// that bench/kernels.mjs also measures, so rows line up with
// bench/results/kernels.json by `key`. Short by design (a few seconds).

const FORMS = [
  { name: 'A·B', ta: false, tb: false },
  { name: 'Aᵀ·B', ta: true, tb: false },
  { name: 'A·Bᵀ', ta: false, tb: true },
  { name: 'Aᵀ·Bᵀ', ta: true, tb: true },
];

/** Median ms of fn after warm-up: at least minRepeats samples and minTimeMs of timing. */
export function timeMedian(fn, { warmup = 2, minRepeats = 5, minTimeMs = 200 } = {}) {
  for (let i = 0; i < warmup; i++) fn();
  const samples = [];
  const start = performance.now();
  while (samples.length < minRepeats || (performance.now() - start < minTimeMs && samples.length < 200)) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

/**
 * The suite's cases, lined up by `key` with bench/results/kernels.json. Each
 * case's setup() makes its inputs and returns { run, dispose }; value(ms)
 * turns a time per run into the case's unit (GFLOP/s, G binary-op/s, GOP/s,
 * k vectors/s). Runners time run() their own way (in workerd only the host can
 * read a clock).
 */
export function suiteCases(sg) {
  const cases = [];
  const rate = (ops) => (ms) => ops / (ms * 1e6);
  for (const [M, N, K] of [[512, 512, 512], [128, 1024, 784]]) {
    for (const { name, ta, tb } of FORMS) {
      cases.push({
        key: `f32 ${M}x${N}x${K} ${name}`, kernel: 'f32 matmul', shape: `${M}x${N}x${K} ${name}`, unit: 'GFLOP/s', value: rate(2 * M * N * K),
        setup: () => {
          const a = sg.randn(ta ? [K, M] : [M, K], { seed: 1 }), b = sg.randn(tb ? [N, K] : [K, N], { seed: 2 });
          return { run: () => sg.matmul(a, b, { transposeA: ta, transposeB: tb }).dispose(), dispose: () => { a.dispose(); b.dispose(); } };
        },
      });
    }
  }
  {
    const [M, N, K] = [512, 512, 4096];
    cases.push({
      key: `binary ${M}x${N}x${K}`, kernel: 'binaryMatmul', shape: `${M}x${N}x${K}`, unit: 'G binary-op/s', value: rate(2 * M * N * K),
      setup: () => {
        const a = sg.randn([M, K], { seed: 3 }), b = sg.randn([N, K], { seed: 4 });
        const ab = sg.packBits(a), bb = sg.packBits(b);
        a.dispose(); b.dispose();
        return { run: () => sg.binaryMatmul(ab, bb, K).dispose(), dispose: () => { ab.dispose(); bb.dispose(); } };
      },
    });
  }
  {
    const [M, N, K] = [512, 512, 512];
    const int8 = (shape, seed) => {
      const v = new Int8Array(shape[0] * shape[1]);
      let s = seed;
      for (let i = 0; i < v.length; i++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; v[i] = s; }
      return sg.tensor(v, shape, { dtype: 'int8' });
    };
    cases.push({
      key: `int8 ${M}x${N}x${K}`, kernel: 'int8Matmul', shape: `${M}x${N}x${K}`, unit: 'GOP/s', value: rate(2 * M * N * K),
      setup: () => {
        const a = int8([M, K], 5), b = int8([N, K], 6);
        return { run: () => sg.int8Matmul(a, b, { transposeB: true }).dispose(), dispose: () => { a.dispose(); b.dispose(); } };
      },
    });
  }
  {
    const [M, N, K] = [128, 1024, 784];
    cases.push({
      key: `u8b1 ${M}x${N}x${K}`, kernel: 'uint8BinaryMatmul', shape: `${M}x${N}x${K}`, unit: 'GOP/s', value: rate(2 * M * N * K),
      setup: () => {
        const x = sg.tensor(Uint8Array.from({ length: M * K }, (_, i) => (i * 37) & 255), [M, K], { dtype: 'uint8' });
        const w = sg.randn([N, K], { seed: 9 });
        const bits = sg.packBits(w);
        w.dispose();
        return { run: () => sg.uint8BinaryMatmul(x, bits).dispose(), dispose: () => { x.dispose(); bits.dispose(); } };
      },
    });
  }
  {
    const n = 1 << 20;
    cases.push({
      key: `quantizeInt8 ${n}`, kernel: 'quantizeInt8', shape: `${n.toLocaleString('en-US')} values`, unit: 'G elements/s', value: rate(n),
      setup: () => {
        const x = sg.randn([1024, 1024], { seed: 10, std: 8 });
        return { run: () => sg.quantizeInt8(x, { scale: 0.05, zeroPoint: 0 }).dispose(), dispose: () => x.dispose() };
      },
    });
  }
  {
    const [N, D, K] = [4096, 64, 512];
    cases.push({
      key: `vq ${N}x${D} K=${K}`, kernel: 'vqNearest', shape: `${N} x ${D}, K=${K}`, unit: 'k vectors/s', value: (ms) => N / ms,
      setup: () => {
        const z = sg.randn([N, D], { seed: 7 }), c = sg.randn([K, D], { seed: 8 });
        return { run: () => sg.vqNearest(z, c).dispose(), dispose: () => { z.dispose(); c.dispose(); } };
      },
    });
  }
  return cases;
}

/**
 * Runs the suite with an in-runtime clock; returns rows { key, kernel, shape,
 * unit, value, ms, threads } (threads: the pool size the kernels ran with). onRow is called after each row (progress display).
 */
export function runSuite(sg, { onRow = () => {}, minTimeMs = 200 } = {}) {
  const rows = [];
  const { threads } = sg.info();
  // Optimized wasm code replaces the baseline tier only after some calls.
  {
    const a = sg.ones([96, 96]), b = sg.ones([96, 96]);
    const start = performance.now();
    while (performance.now() - start < 400) for (const { ta, tb } of FORMS) sg.matmul(a, b, { transposeA: ta, transposeB: tb }).dispose();
    a.dispose(); b.dispose();
  }
  for (const c of suiteCases(sg)) {
    const instance = c.setup();
    const ms = timeMedian(instance.run, { minTimeMs });
    instance.dispose();
    const row = { key: c.key, kernel: c.kernel, shape: c.shape, unit: c.unit, value: c.value(ms), ms, threads };
    rows.push(row);
    onRow(row);
  }
  return rows;
}

/** Parses a number from a saved table cell: "32.1", "452k", "1.34x (…)", "1,234". */
export function cellNumber(cell) {
  if (typeof cell === 'number') return cell;
  const m = /^\s*([-\d.,]+)\s*(k)?/.exec(String(cell ?? ''));
  if (!m) return NaN;
  const v = Number(m[1].replace(/,/g, ''));
  return m[2] ? v * 1000 : v;
}

/** The Node value of a suite row from bench/results/kernels.json, keyed like runSuite's rows. */
export function savedKernelValues(kernels) {
  const out = {};
  const s = kernels?.suites ?? {};
  for (const r of s.f32 ?? []) out[`f32 ${r['shape MxNxK']} ${r.form}`] = cellNumber(r['snapgrad GFLOP/s']);
  for (const r of s.binary ?? []) out[`binary ${r.shape}`] = cellNumber(r['snapgrad binary']);
  for (const r of s.int8 ?? []) out[`int8 ${r.shape}`] = cellNumber(r['snapgrad s8·s8']);
  for (const r of s.u8b1 ?? []) out[`u8b1 ${r.shape}`] = cellNumber(r['snapgrad u8·1-bit']);
  for (const r of s.quant ?? []) if (r.kernel.startsWith('quantizeInt8')) out[`quantizeInt8 ${cellNumber(r.n)}`] = cellNumber(r.snapgrad);
  for (const r of s.vq ?? []) {
    const m = /^(\d+) x (\d+), K=(\d+)$/.exec(r['N x D, K codes']);
    if (m) out[`vq ${m[1]}x${m[2]} K=${m[3]}`] = cellNumber(r['snapgrad vec/s']) / 1000;
  }
  return out;
}
