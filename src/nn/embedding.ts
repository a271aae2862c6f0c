import { cast, gather } from '../ops/shape.js';
import { i32FindOutOfRange } from '../kernels/shape.js';
import { composite } from '../autograd/tape.js';
import { checkNumber } from '../tensor/checks.js';
import { randn } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Macs } from '../freeze/types.js';
import { readOptions } from '../tensor/options.js';
import { checkInputTensor, seedOption } from './guard.js';
import { layerSeed } from './init.js';
import { MAX_FEATURES } from './linear.js';
import { Module } from './module.js';

export interface EmbeddingOptions {
  seed?: number;
}

/**
 * A lookup table of numEmbeddings vectors of length dim, initialized N(0, 1)
 * (PyTorch's default): forward(indices [...]) gives [..., dim]. The gradient
 * adds each output row into the table row it was read from.
 */
export class Embedding extends Module {
  constructor(readonly numEmbeddings: number, readonly dim: number, options: EmbeddingOptions | null = {}) {
    super();
    checkNumber(numEmbeddings, 'Embedding', 'numEmbeddings', { integer: true, min: 1, max: 2 ** 24 });
    checkNumber(dim, 'Embedding', 'dim', { integer: true, min: 1, max: MAX_FEATURES });
    if (numEmbeddings * dim > 2 ** 28) {
      throw new Error(`Embedding: a table of ${numEmbeddings} x ${dim} has more than 2^28 elements (1 GiB of float32); use fewer embeddings or a smaller dim`);
    }
    const seed = layerSeed(seedOption(readOptions<EmbeddingOptions>(options, 'Embedding').seed, 'Embedding'));
    this.registerParameter('weight', randn([numEmbeddings, dim], { seed }));
  }

  /** The table, [numEmbeddings, dim]. */
  get weight(): Tensor {
    return this.param('weight');
  }

  forward(indices: Tensor): Tensor {
    checkInputTensor(indices, 'Embedding', 'indices');
    if (indices.dtype !== 'int32' && indices.dtype !== 'uint8') {
      // freeze() and summary() trace on float32 inputs: that case is named too, since the cast is not the caller's to make there.
      const fix = indices.dtype === 'float32' ? "; convert it with indices.cast('int32') (freeze and summary trace models on float32 inputs, so a model that starts with an Embedding has no frozen form)" : '';
      throw new Error(`Embedding.forward: indices must be int32 or uint8, got ${indices.dtype}${fix}`);
    }
    this.checkAlive();
    return composite(() => {
      const idx = indices.dtype === 'int32' ? indices : cast(indices, 'int32');
      const bad = i32FindOutOfRange(idx, 0, this.numEmbeddings);
      if (bad >= 0) {
        throw new Error(`Embedding.forward: indices[${bad}] = ${idx.dataSync()[bad]} is out of range [0, ${this.numEmbeddings}) (the table has numEmbeddings = ${this.numEmbeddings} rows)`);
      }
      return gather(this.weight, idx);
    });
  }

  /** A lookup: no multiply-accumulates. */
  summaryMacs(): Macs {
    return { binary: 0, binaryWeights: 0, int8: 0, float: 0 };
  }
}
