// Short runs of every example on a subset of MNIST: each must learn (loss
// falls, accuracy far above chance) and print its summary. The examples run
// as users run them: `node examples/<name>.mjs` against the built package.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;

function runExample(name: string, args: string[], timeout = 120_000): string {
  return execFileSync(process.execPath, [join(root, 'examples', `${name}.mjs`), ...args], { cwd: root, encoding: 'utf8', timeout });
}

function numbers(out: string, re: RegExp): number[] {
  return [...out.matchAll(new RegExp(re, 'g'))].map((m) => Number(m[1]));
}

describe('examples learn on a subset of MNIST', () => {
  test('mnist-bnn: loss falls, accuracy far above chance, frozen model gives identical predictions and is >= 10x smaller', () => {
    const out = runExample('mnist-bnn', ['--epochs', '2', '--limit-train', '4000', '--limit-test', '1000', '--hidden', '256']);
    const losses = numbers(out, /loss (\d+\.\d+)/);
    expect(losses.length).toBe(2);
    expect(losses[1]).toBeLessThan(losses[0]);
    const last = out.trim().split('\n').pop()!;
    const m = last.match(/^test accuracy (\d+\.\d+)% \(frozen (\d+\.\d+)%\) in \d+ s \(training \d+ s\), weights ([\d.]+) (MB|kB) -> ([\d.]+) (MB|kB)$/);
    expect(m, last).not.toBeNull();
    const [, acc, frozenAcc, before, bu, after, au] = m!;
    expect(Number(acc)).toBeGreaterThan(75);
    expect(frozenAcc).toBe(acc);
    expect(out).toContain("predictions identical to the trained model's: yes");
    const bytes = (v: string, u: string) => Number(v) * (u === 'MB' ? 1e6 : 1e3);
    expect(bytes(before, bu) / bytes(after, au)).toBeGreaterThanOrEqual(10);
    expect(out).toMatch(/\d+ samples\/s/);
  });

  test('cloudflare-worker/train-conv: the binary CNN learns, its frozen form (packed convs) gives the same accuracy, and the file loads', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapgrad-conv-'));
    try {
      const file = join(dir, 'model-conv.safetensors');
      const out = runExample('cloudflare-worker/train-conv', ['--epochs', '1', '--limit-train', '3000', '--limit-test', '500', '--save', file]);
      const m = out.trim().split('\n').pop()!.match(/^test accuracy (\d+\.\d+)% \(frozen (\d+\.\d+)%\) in \d+ s; saved [\d.]+ kB to /);
      expect(m, out).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThan(50);
      expect(m![2]).toBe(m![1]);
      expect(out).toMatch(/binary-conv2d 16 -> 32, 3x3 conv, 1-bit weights, 1-bit inputs, batch norm folded into thresholds -> bits, 2x2 max-pool on bits/);
      // the saved file is a frozen model: safetensors header naming the format
      expect(readFileSync(file).toString('latin1')).toContain('snapgrad-frozen');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('mnist-bcnn: the binary CNN learns, freezes to packed convs with identical predictions and is >= 15x smaller', () => {
    const out = runExample('mnist-bcnn', ['--epochs', '1', '--limit-train', '3000', '--limit-test', '500', '--channels', '16', '--hidden', '64']);
    const last = out.trim().split('\n').pop()!;
    const m = last.match(/^test accuracy (\d+\.\d+)% \(frozen (\d+\.\d+)%\) in \d+ s \(training \d+ s\), weights ([\d.]+) (MB|kB) -> ([\d.]+) (MB|kB)$/);
    expect(m, last).not.toBeNull();
    const [, acc, frozenAcc, before, bu, after, au] = m!;
    expect(Number(acc)).toBeGreaterThan(60); // chance: 10%
    expect(frozenAcc).toBe(acc);
    expect(out).toContain("predictions identical to the trained model's: yes");
    expect(out).toMatch(/binary-conv2d 16 -> 16, 3x3 conv, 1-bit weights, 1-bit inputs/);
    const bytes = (v: string, u: string) => Number(v) * (u === 'MB' ? 1e6 : 1e3);
    expect(bytes(before, bu) / bytes(after, au)).toBeGreaterThanOrEqual(15); // the float classifier and batch norm stay float32
  });

  test('vq-vae: reconstruction improves, most codes are used, a PNG is written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapgrad-vq-'));
    try {
      const png = join(dir, 'recon.png');
      const out = runExample('vq-vae', ['--epochs', '3', '--limit-train', '10000', '--limit-test', '500', '--codes', '64', '--batch', '64', '--lr', '0.003', '--out', png]);
      const mses = numbers(out, /  mse (\d+\.\d+)/);
      expect(mses[2]).toBeLessThan(mses[0]);
      const [mse] = numbers(out, /test reconstruction MSE (\d+\.\d+)/);
      const [used] = numbers(out, /codes used (\d+\.\d+)%/);
      expect(mse).toBeLessThan(0.056); // predicting the mean image gives about 0.067
      expect(used).toBeGreaterThan(50);
      const bytes = readFileSync(png);
      expect([...bytes.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('vq-vae --conv: the conv VQ-VAE (7x7 latents) beats the mean image with either upsampling, uses most codes, writes a PNG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapgrad-conv-vq-'));
    try {
      const runs: [string[], string][] = [
        [['--upsample', 'subpixel'], 'quantizer vq: 64 codes of dimension 8'],
        [['--upsample', 'nearest', '--quantizer', 'fsq'], 'quantizer fsq: levels [8,6,5], 240 implicit codes'],
      ];
      for (const [args, header] of runs) {
        const png = join(dir, 'recon.png');
        const out = runExample('vq-vae', ['--conv', ...args, '--channels', '8', '--epochs', '2', '--limit-train', '3000', '--limit-test', '300', '--codes', '64', '--batch', '64', '--lr', '0.003', '--out', png]);
        const lines = out.split('\n');
        expect(lines[0], args.join(' ')).toBe(header);
        expect(lines[1]).toBe(`conv encoder 28x28x1 -> 14x14x8 -> 7x7x16 -> 7x7x${header.startsWith('quantizer fsq') ? 3 : 8} latents; decoder upsamples by ${args[1] === 'nearest' ? 'nearest-neighbour resize' : 'sub-pixel convolution'}`);
        const mses = numbers(out, /  mse (\d+\.\d+)/);
        expect(mses[1], out).toBeLessThan(mses[0]);
        const m = out.match(/test reconstruction MSE (\d+\.\d+), codebook perplexity (\d+\.\d) of (\d+), codes used (\d+\.\d)%/);
        expect(m, out).not.toBeNull();
        const [mse, perplexity, , used] = m!.slice(1).map(Number);
        expect(mse, args.join(' ')).toBeLessThan(0.05); // predicting the mean image gives about 0.067
        expect(perplexity, args.join(' ')).toBeGreaterThan(10);
        expect(used, args.join(' ')).toBeGreaterThan(30);
        expect([...readFileSync(png).subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
      }
      expect(() => runExample('vq-vae', ['--conv', '--latents', '16', '--limit-train', '10'])).toThrow(/with --conv the latents are the 7x7 grid/);
      expect(() => runExample('vq-vae', ['--channels', '8', '--limit-train', '10'])).toThrow(/--channels and --upsample shape the conv nets; add --conv/);
      expect(() => runExample('vq-vae', ['--conv', '--upsample', 'bilinear', '--limit-train', '10'])).toThrow(/--upsample must be nearest or subpixel, got "bilinear"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('qat-int8: float, QAT and frozen int8 all learn; int8 stays close to QAT', () => {
    const out = runExample('qat-int8', ['--epochs', '2', '--limit-train', '4000', '--limit-test', '1000', '--hidden', '128', '--lr', '0.005']);
    const m = out.match(/float32 (\d+\.\d+)%, QAT (\d+\.\d+)%, frozen int8 (\d+\.\d+)%/);
    expect(m, out).not.toBeNull();
    const [floatAcc, qatAcc, int8Acc] = m!.slice(1).map(Number);
    expect(floatAcc).toBeGreaterThan(80);
    expect(qatAcc).toBeGreaterThan(80);
    expect(Math.abs(int8Acc - qatAcc)).toBeLessThanOrEqual(1);
  });

  test('hard-choice: every way of training the discrete choice finds the right slot', () => {
    const out = runExample('hard-choice', ['--steps', '500']);
    for (const mode of ['argmax', 'gumbel', 'soft']) {
      const m = out.match(new RegExp(`${mode}\\s+test accuracy (\\d+\\.\\d+)%\\s+right slot (\\d+\\.\\d+)%`));
      expect(m, out).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThan(80); // chance: 33%
      expect(Number(m![2])).toBeGreaterThan(80); // chance: 25%
    }
  });

  test('hard-attention: the argmaxOneHot choice learns to read the marked position', () => {
    const out = runExample('hard-attention', ['--steps', '300', '--test', '1000']);
    const m = out.match(/test accuracy (\d+\.\d+)%\s+marked position chosen (\d+\.\d+)%/);
    expect(m, out).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(90); // chance: 25%
    expect(Number(m![2])).toBeGreaterThan(80); // chance: 12.5%
  });

  test('demo: the seed examples print, and the binary network learns', () => {
    const out = runExample('demo', ['--steps', '200']);
    expect(out).toContain('ste.sign([-1.5, 0, 0.5, 2])        = [-1,0,1,1]   gradient of sum = [1,1,1,1]');
    expect(out).toContain('plain sign: gradient of sum        = [0,0,0,0]');
    const [acc] = numbers(out, /held-out accuracy (\d+\.\d+)%/);
    expect(acc).toBeGreaterThan(50); // chance: 25%
    expect(out).toMatch(/memory after cleanup: \{"bytesInUse":0,"tensorsAlive":0/);
  });

  test('compress: three roundings learn, the rANS stream decodes exactly within 2% of the estimate, RD plots are written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapgrad-compress-'));
    try {
      const out = runExample('compress', ['--epochs', '1', '--limit-train', '3000', '--limit-test', '300', '--lambdas', '8,32', '--out', join(dir, 'c')]);
      for (const mode of ['ste', 'noise', 'mixed']) expect(out).toMatch(new RegExp(`^${mode}: bits/image .*decoded exactly: yes`, 'm'));
      const last = out.trim().split('\n').pop()!;
      const m = last.match(/^bits\/image (\d+\.\d) \(estimated (\d+\.\d)\), MSE (\d\.\d{4}), PSNR (\d+\.\d\d) dB$/);
      expect(m, last).not.toBeNull();
      const [actual, estimate, mse, psnr] = m!.slice(1).map(Number);
      expect(Math.abs(actual - estimate) / estimate).toBeLessThan(0.02);
      expect(mse).toBeLessThan(0.09); // the all-zero image scores about 0.11
      expect(psnr).toBeCloseTo(10 * Math.log10(1 / mse), 0);
      expect(readFileSync(join(dir, 'c-rd.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/);
      expect([...readFileSync(join(dir, 'c-rd.png')).subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
      expect(readFileSync(join(dir, 'c-loss.svg'), 'utf8').match(/<polyline/g)!.length).toBe(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('vq-vae --quantizer vq (rotation trick) | rvq | fsq | lfq: each beats the mean image and reports perplexity and usage', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapgrad-quantizers-'));
    try {
      const runs: [string[], string, number][] = [
        [['--quantizer', 'vq', '--rotation-trick'], 'quantizer vq with the rotation trick: 64 codes of dimension 8', 64],
        [['--quantizer', 'rvq', '--stages', '2'], 'quantizer rvq: 2 stages of 64 codes of dimension 8', 64],
        [['--quantizer', 'fsq'], 'quantizer fsq: levels [8,6,5], 240 implicit codes', 240],
        [['--quantizer', 'lfq'], 'quantizer lfq: 8 bits, 256 implicit codes', 256],
      ];
      for (const [args, header, size] of runs) {
        const out = runExample('vq-vae', [...args, '--epochs', '1', '--limit-train', '3000', '--limit-test', '300', '--codes', '64', '--batch', '64', '--lr', '0.003', '--out', join(dir, 'r.png')]);
        expect(out.split('\n')[0], args.join(' ')).toBe(header);
        const m = out.match(/test reconstruction MSE (\d+\.\d+), codebook perplexity (\d+\.\d) of (\d+), codes used (\d+\.\d)%/);
        expect(m, out).not.toBeNull();
        const [mse, perplexity, of, used] = m!.slice(1).map(Number);
        expect(mse, args.join(' ')).toBeLessThan(0.064); // predicting the mean image gives about 0.067
        expect(of).toBe(size);
        expect(perplexity).toBeGreaterThan(10);
        expect(used).toBeGreaterThan(15);
      }
      expect(() => runExample('vq-vae', ['--quantizer', 'fsq', '--rotation-trick', '--limit-train', '10'])).toThrow(/--rotation-trick applies to the codebook quantizers \(vq, rvq\)/);
      expect(() => runExample('vq-vae', ['--quantizer', 'pq', '--limit-train', '10'])).toThrow(/--quantizer must be vq, rvq, fsq or lfq, got "pq"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('estimators: every estimator trains the categorical VAE on both configs; the JSON holds { elbo, bias, std, cosine } for each', () => {
    const dir = mkdtempSync(join(tmpdir(), 'snapgrad-est-'));
    try {
      const file = join(dir, 'estimators.json');
      const out = runExample('estimators', ['--epochs', '1', '--limit-train', '1000', '--limit-test', '200', '--batch', '50', '--diag-images', '1', '--diag-samples', '16', '--reference-samples', '8', '--json', file], 170_000);
      const names = ['st', 'st-gumbel', 'gumbel-softmax', 'gumbel-rao', 'reinmax', 'reinforce-loo'];
      const json = JSON.parse(readFileSync(file, 'utf8'));
      expect(Object.keys(json.configs)).toEqual(['8x4', '4x24']);
      for (const config of ['8x4', '4x24']) {
        expect(Object.keys(json.configs[config])).toEqual(names);
        for (const name of names) {
          const r = json.configs[config][name];
          // 784·ln 2 = 543 nats is what an untrained decoder (p = 0.5 everywhere) costs: every estimator must beat it.
          expect(r.elbo.train).toBeLessThan(543);
          expect(r.elbo.test).toBeLessThan(543);
          expect(r.elbo.test).toBeGreaterThan(50);
          // 4^24 configurations cannot be enumerated: there the reference is sampled, with its own error.
          expect(r.reference).toBe(config === '8x4' ? 'exact' : 'sampled');
          for (const v of r.referenceError) expect(config === '8x4' ? v === 0 : v > 0 && v < 1).toBe(true);
          for (const k of ['bias', 'std', 'cosine']) {
            expect(r[k]).toHaveLength(3);
            for (const v of r[k]) expect(Number.isFinite(v)).toBe(true);
          }
          for (const v of r.cosine) expect(Math.abs(v)).toBeLessThanOrEqual(1);
        }
      }
      for (const name of names) expect(out).toMatch(new RegExp(`^${name}\\s+\\d+\\.\\d+\\s+\\d+\\.\\d+`, 'm'));
      expect(out).toContain('too large to enumerate; bias / std / cosine vs a sampled reference');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
