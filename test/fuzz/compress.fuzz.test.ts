// Learned compression and charts: frequency tables and the rANS coder against
// exact round trips and the -log2 p cost bound, hostile streams and tables;
// EntropyBottleneck coding against round(y) and its float64 estimate; the
// chart writers with hostile series and options.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { hostile, hostileOption } from './arbitraries.js';
import { expectClose, free, prop, runCase, useRuntime } from './oracle.js';

useRuntime();

const weights = fc.array(fc.oneof({ weight: 4, arbitrary: fc.double({ min: 0, max: 100, noNaN: true }) }, { weight: 1, arbitrary: fc.constantFrom(0, 1e-12, 1e12) }), { minLength: 1, maxLength: 40 });

describe('entropy coding', () => {
  prop(['sg.entropy.frequencyTable', 'sg.entropy.MAX_PRECISION'], 'tables sum to 2^precision with every frequency >= 1, or hostile weights are rejected by name', fc.record({
    w: fc.oneof({ weight: 4, arbitrary: weights }, { weight: 1, arbitrary: fc.array(hostile, { maxLength: 4 }) }, { weight: 1, arbitrary: hostile }),
    precision: fc.oneof(fc.integer({ min: 6, max: sg.entropy.MAX_PRECISION }), hostileOption),
  }), async ({ w, precision }) => {
    const valid = Array.isArray(w) && w.length >= 1 && w.every((v) => typeof v === 'number' && Number.isFinite(v) && v >= 0) && (w as number[]).some((v) => v > 0)
      && Number.isInteger(precision) && (precision as number) >= 1 && (precision as number) <= 16 && w.length <= 2 ** (precision as number);
    await runCase(() => sg.entropy.frequencyTable(w as number[], precision as number), {
      fn: 'frequencyTable', expect: valid ? 'ok' : 'error', args: ['probabilities', 'precision'],
      check: (t) => {
        const total = 2 ** (precision as number);
        if (t.starts[t.freqs.length] !== total || t.freqs.some((f) => f < 1)) throw new Error('frequencyTable: not a valid table');
        const sum = (w as number[]).reduce((a, b) => a + b, 0);
        // largest remainder: each frequency is within 1 of 1 + p * (total - n)
        (w as number[]).forEach((v, i) => {
          const share = 1 + (v / sum) * (total - w.length);
          if (Math.abs(t.freqs[i] - share) > 1) throw new Error(`frequencyTable: freqs[${i}] = ${t.freqs[i]}, share ${share}`);
        });
      },
    });
  });

  prop(['sg.entropy.RansEncoder', 'sg.entropy.RansEncoder#put', 'sg.entropy.RansEncoder#finish', 'sg.entropy.RansDecoder', 'sg.entropy.RansDecoder#get', 'sg.entropy.RansDecoder#finish'],
    'streams decode to the symbols put, cost at most 40 bits over -log2 p, and mutated streams decode or throw a RansDecoder error', fc.record({
      tables: fc.array(weights, { minLength: 1, maxLength: 4 }),
      picks: fc.array(fc.tuple(fc.nat(), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true })), { maxLength: 300 }),
      flip: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }))),
      cut: fc.option(fc.nat()),
    }), async ({ tables: ws, picks, flip, cut }) => {
      const tables = ws.map((w) => (w.some((v) => v > 0) ? sg.entropy.frequencyTable(w) : sg.entropy.frequencyTable(w.map(() => 1))));
      const seq = picks.map(([k, u]) => {
        const t = tables[k % tables.length];
        return { t, s: Math.min(t.freqs.length - 1, Math.floor(u * t.freqs.length)) };
      });
      const enc = new sg.entropy.RansEncoder();
      for (const { t, s } of seq) enc.put(s, t);
      const stream = enc.finish();
      const dec = new sg.entropy.RansDecoder(stream);
      const got = seq.map(({ t }) => dec.get(t));
      dec.finish();
      seq.forEach(({ s }, i) => {
        if (got[i] !== s) throw new Error(`RansDecoder: symbol ${i} decoded as ${got[i]}, put ${s}`);
      });
      const ideal = seq.reduce((b, { t, s }) => b - Math.log2(t.freqs[s] / 65536), 0);
      if (stream.length * 8 > ideal + 40 || stream.length * 8 < ideal) throw new Error(`RansEncoder: ${stream.length * 8} bits for ideal ${ideal}`);
      // Hostile streams: a flipped byte or a cut must never give an internal error.
      const bad = new Uint8Array(stream);
      if (flip) bad[flip[0] % bad.length] ^= flip[1];
      const hostileStream = cut ? bad.subarray(0, cut % (bad.length + 1)) : bad;
      await runCase(() => {
        const d = new sg.entropy.RansDecoder(hostileStream);
        for (const { t } of seq) {
          const s = d.get(t);
          if (!Number.isInteger(s) || s < 0 || s >= t.freqs.length) throw new Error(`RansDecoder: decoded ${s} outside the table`);
        }
        d.finish();
      }, { fn: ['RansDecoder'], expect: flip || cut !== null ? 'either' : 'ok' });
    });
});

describe('EntropyBottleneck', () => {
  prop(['sg.nn.EntropyBottleneck', 'sg.nn.EntropyBottleneck#forward', 'sg.nn.EntropyBottleneck#quantize', 'sg.nn.EntropyBottleneck#compress', 'sg.nn.EntropyBottleneck#decompress', 'sg.nn.EntropyBottleneck#estimateBits',
    'sg.nn.EntropyBottleneck#loc', 'sg.nn.EntropyBottleneck#logScale', 'sg.nn.EntropyBottleneck#summaryMacs', 'sg.nn.EntropyBottleneck#inputWidth'],
  'coding returns round(y) exactly at the estimated cost; eval bits equal the float64 estimate; hostile y and shapes are rejected', fc.record({
    c: fc.integer({ min: 1, max: 6 }),
    rows: fc.integer({ min: 0, max: 12 }),
    loc: fc.array(fc.double({ min: -20, max: 20, noNaN: true }), { minLength: 6, maxLength: 6 }),
    logScale: fc.array(fc.double({ min: -4, max: 6, noNaN: true }), { minLength: 6, maxLength: 6 }),
    spread: fc.constantFrom(0.5, 5, 500, 1e6),
    values: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 72, maxLength: 72 }),
    rounding: fc.constantFrom('noise', 'ste', 'mixed'),
    badShape: fc.option(fc.constantFrom<unknown>([1], [2, 7], 'x', null, [-1, 1])),
  }), async ({ c, rows, loc, logScale, spread, values, rounding, badShape }) => {
    const eb = new sg.nn.EntropyBottleneck(c, { rounding });
    const state = { loc: sg.tensor(loc.slice(0, c)), logScale: sg.tensor(logScale.slice(0, c)) };
    eb.loadStateDict(state);
    free(state.loc, state.logScale);
    eb.eval();
    const y = sg.tensor(values.slice(0, rows * c).map((v, i) => v * spread + loc[i % c]), [rows, c]);
    try {
      if (eb.inputWidth() !== c || eb.summaryMacs().float !== 0 || eb.loc.shape[0] !== c || eb.logScale.shape[0] !== c) throw new Error('EntropyBottleneck: wrong layer facts');
      await runCase(() => {
        const stream = eb.compress(y);
        return { stream, back: eb.decompress(stream, [rows, c]) };
      }, {
        fn: 'EntropyBottleneck', expect: 'ok', state: [y],
        check: ({ stream, back }) => {
          const want = sg.round(y);
          expectClose(Array.from(back.dataSync(), (v) => v + 0), Array.from(want.dataSync(), (v) => v + 0), 'decompress', { ulps: 0 });
          want.dispose();
          const estimate = eb.estimateBits(y);
          // Values beyond 14 scales of the location leave the table and cost an escape plus 32 raw bits (up to 64 bits
          // where the model's likelihood floor estimates at most 30).
          const escapes = Array.from(y.dataSync()).filter((v, i) => Math.abs(Math.round(v) - loc[i % c]) > 14 * Math.exp(logScale[i % c]) + 1).length;
          if (stream.length * 8 > estimate * 1.01 + 64 + 64 * escapes) throw new Error(`EntropyBottleneck.compress: ${stream.length * 8} bits for estimate ${estimate}`);
        },
      });
      await runCase(() => eb.quantize(y), {
        fn: 'EntropyBottleneck', expect: 'ok', state: [y],
        check: ({ bits }) => {
          const est = eb.estimateBits(y);
          if (Math.abs(bits.item() - est) > 1e-3 * Math.max(1, est)) throw new Error(`EntropyBottleneck.quantize: bits ${bits.item()} vs estimate ${est}`);
        },
      });
      await runCase(() => eb.forward(y), { fn: 'EntropyBottleneck', expect: 'ok', state: [y] });
      if (badShape !== null) {
        const stream = eb.compress(y);
        // [1] or [2, 7] may be a valid shape for this layer, holding another count than the stream: then the stream is rejected.
        await runCase(() => eb.decompress(stream, badShape as number[]), { fn: 'EntropyBottleneck.decompress', expect: 'either', args: ['shape', 'stream'] });
      }
      const wrong = sg.zeros([2, c + 1]);
      await runCase(() => eb.compress(wrong), { fn: 'EntropyBottleneck.compress', expect: 'error', args: ['y'] });
      free(wrong);
    } finally {
      free(y);
      eb.dispose();
    }
  }, 0.5);
});

describe('plot', () => {
  const num = fc.oneof({ weight: 6, arbitrary: fc.double({ min: -1e6, max: 1e6, noNaN: true }) }, { weight: 1, arbitrary: hostile });
  prop(['sg.plot.lineChartSvg', 'sg.plot.lineChartPng', 'sg.plot.encodePng'], 'charts draw every valid series (one polyline each, a PNG signature) and reject hostile series, sizes and colours by name', fc.record({
    series: fc.array(fc.record({ name: fc.oneof(fc.string({ maxLength: 8 }), hostile), x: fc.array(num, { maxLength: 6 }), y: fc.array(num, { maxLength: 6 }), color: fc.option(fc.constantFrom('#00aa11', 'red', '#12345')) }), { maxLength: 3 }),
    width: fc.oneof(fc.constantFrom(undefined, 200, 640), hostileOption),
    logY: fc.boolean(),
    png: fc.boolean(),
  }), async ({ series, width, logY, png }) => {
    const isNum = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
    const valid = series.length > 0 && (width === undefined || (Number.isInteger(width) && (width as number) >= 160 && (width as number) <= 4096))
      && series.every((s) => typeof s.name === 'string' && s.x.length === s.y.length && s.x.length > 0 && s.x.every(isNum) && s.y.every((v) => isNum(v) && (!logY || (v as number) > 0)) && (s.color === null || /^#[0-9a-f]{6}$/.test(s.color)));
    const list = series.map((s) => (s.color === null ? { name: s.name, x: s.x, y: s.y } : s)) as sg.plot.Series[];
    if (png) {
      await runCase(() => sg.plot.lineChartPng(list, { width: width as number, logY }), {
        fn: 'lineChartPng', expect: valid ? 'ok' : 'error',
        check: (bytes) => {
          if (![137, 80, 78, 71].every((b, i) => bytes[i] === b)) throw new Error('lineChartPng: no PNG signature');
        },
      });
    } else {
      await runCase(() => sg.plot.lineChartSvg(list, { width: width as number, logY }), {
        fn: 'lineChartSvg', expect: valid ? 'ok' : 'error',
        check: (svg) => {
          if ((svg.match(/<polyline /g) ?? []).length !== series.length) throw new Error('lineChartSvg: wrong number of polylines');
        },
      });
    }
    await runCase(() => sg.plot.encodePng(new Uint8Array(12), 2, 2, 3), { fn: 'encodePng', expect: 'ok' });
    await runCase(() => sg.plot.encodePng(new Uint8Array(12), width as number, 2, 3), { fn: 'encodePng', expect: width === 2 ? 'ok' : 'error' });
  });
});
