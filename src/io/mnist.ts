import { checkNumber, describe } from '../tensor/checks.js';
import type { Tensor } from '../tensor/tensor.js';
import { idxSizeFromHead, parseIdxAs, parseIdxHeader } from './idx.js';
import { readOptions } from '../tensor/options.js';
import { childLocation, locationName, maybeGunzip, NotFoundError, readLimits, readLocation, toLocation, type GunzipLimits, type Location } from './source.js';

/** maxBytes and maxRatio bound the decompression of each file (each is also capped at the size its header declares). */
export interface MnistOptions extends GunzipLimits {
  /** Keep only the first `limitTrain` training examples. */
  limitTrain?: number;
  /** Keep only the first `limitTest` test examples. */
  limitTest?: number;
}

export interface Mnist {
  /** uint8 [N, rows, cols], 0 = background, 255 = ink. */
  trainImages: Tensor;
  /** uint8 [N], class indices. */
  trainLabels: Tensor;
  testImages: Tensor;
  testLabels: Tensor;
}

/** The standard file names; each is looked for gzipped first, then plain. */
const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

type Key = keyof typeof FILES;

/**
 * Loads a dataset in the MNIST layout (the four standard IDX files, gzipped
 * or not) from a folder path or URL. Without `dir`, loads the copy of MNIST in
 * the repository's examples/data/mnist/ (a git checkout has it; the npm
 * package does not ship the 11 MB of data, so pass `dir` there).
 */
export async function loadMnist(dir?: string | URL | null, options: MnistOptions | null = {}): Promise<Mnist> {
  const op = 'loadMnist';
  const o = readOptions<MnistOptions>(options, op);
  const limitTrain = o.limitTrain === undefined ? undefined : checkNumber(o.limitTrain, op, 'limitTrain', { integer: true, min: 0 });
  const limitTest = o.limitTest === undefined ? undefined : checkNumber(o.limitTest, op, 'limitTest', { integer: true, min: 0 });
  const limits = readLimits(o, op);
  if (dir === null) dir = undefined;
  if (dir !== undefined && typeof dir !== 'string' && !(dir instanceof URL)) {
    throw new Error(`${op}: dir must be a folder path or URL, got ${describe(dir)}`);
  }
  const folders = dir === undefined ? bundledFolders() : [toLocation(dir, op)];

  let lastMissing = '';
  for (const folder of folders) {
    let raw: Record<Key, { bytes: Uint8Array; name: string }>;
    try {
      const keys = Object.keys(FILES) as Key[];
      const found = await Promise.all(keys.map((k) => readEither(folder, FILES[k], op, limits)));
      raw = Object.fromEntries(keys.map((k, i) => [k, found[i]])) as typeof raw;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      lastMissing = err.message;
      continue;
    }
    return parseAll(raw, limitTrain, limitTest, op);
  }
  throw new Error(dir === undefined
    ? `${op}: the bundled MNIST files were not found (looked in ${folders.map(locationName).join(' and ')}); pass the folder that holds them. ${lastMissing}`
    : lastMissing);
}

/**
 * Where the bundled data lives relative to the running module: src/io/ when
 * run from source, dist/ when run from the bundle. Resolved on each call:
 * in Cloudflare Workers import.meta.url is undefined.
 */
function bundledFolders(): Location[] {
  const here = import.meta.url;
  if (!here) throw new Error('loadMnist: this runtime does not tell modules their URL, so the bundled MNIST cannot be located; pass dir');
  return [
    { kind: 'url', url: new URL('../../examples/data/mnist/', here) },
    { kind: 'url', url: new URL('../examples/data/mnist/', here) },
  ];
}

async function readEither(folder: Location, base: string, op: string, limits: Required<GunzipLimits>): Promise<{ bytes: Uint8Array; name: string }> {
  const gz = childLocation(folder, `${base}.gz`);
  const plain = childLocation(folder, base);
  let loc = gz;
  let bytes: Uint8Array;
  try {
    bytes = await readLocation(gz, op);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    loc = plain;
    try {
      bytes = await readLocation(plain, op);
    } catch (err2) {
      if (!(err2 instanceof NotFoundError)) throw err2;
      throw new NotFoundError(`${op}: neither ${locationName(gz)} nor ${locationName(plain)} exists`);
    }
  }
  const name = locationName(loc);
  return { bytes: await maybeGunzip(bytes, name, op, limits, idxSizeFromHead(name, op)), name };
}

function parseAll(raw: Record<Key, { bytes: Uint8Array; name: string }>, limitTrain: number | undefined, limitTest: number | undefined, op: string): Mnist {
  for (const [images, labels] of [['trainImages', 'trainLabels'], ['testImages', 'testLabels']] as const) {
    const hi = parseIdxHeader(raw[images].bytes, raw[images].name, op);
    const hl = parseIdxHeader(raw[labels].bytes, raw[labels].name, op);
    if (hi.dtype !== 'uint8' || hi.shape.length !== 3) {
      throw new Error(`${op}: ${raw[images].name} must hold uint8 images [N, rows, cols], got ${hi.type} [${hi.shape}]`);
    }
    if (hl.dtype !== 'uint8' || hl.shape.length !== 1) {
      throw new Error(`${op}: ${raw[labels].name} must hold uint8 labels [N], got ${hl.type} [${hl.shape}]`);
    }
    if (hi.shape[0] !== hl.shape[0]) {
      throw new Error(`${op}: ${raw[images].name} has ${hi.shape[0]} images but ${raw[labels].name} has ${hl.shape[0]} labels`);
    }
  }
  // Headers are all valid, so the parses below cannot fail except by running out of memory.
  const made: Tensor[] = [];
  const parse = (k: Key, limit: number | undefined): Tensor => {
    const t = parseIdxAs(raw[k].bytes, raw[k].name, limit, op);
    made.push(t);
    return t;
  };
  try {
    return {
      trainImages: parse('trainImages', limitTrain),
      trainLabels: parse('trainLabels', limitTrain),
      testImages: parse('testImages', limitTest),
      testLabels: parse('testLabels', limitTest),
    };
  } catch (err) {
    for (const t of made) t.dispose();
    throw err;
  }
}
