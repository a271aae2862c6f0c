import type { FreezeContext, FrozenStage, Macs } from '../freeze/types.js';
import { pair, type Padding2d } from '../ops/conv-geometry.js';
import { avgPool2dOp, globalAvgPool2dOp, maxPool2dOp } from '../ops/pool.js';
import { describe } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkInputTensor } from './guard.js';
import { Module } from './module.js';

// Pooling layers over NHWC images [N, H, W, C]: thin modules over the ops of
// ops/pool.ts (semantics stated there: padded cells never win a max and are
// not counted in a mean). They hold no parameters; frozen, each is a float
// stage that replays its op with the same window.

export interface Pool2dLayerOptions {
  /** Step between windows (default: the window size). */
  stride?: number | [number, number];
  /** 'valid' (default), 'same' (TF: out = ceil(in / stride)) or [[top, bottom], [left, right]]. */
  padding?: Padding2d;
}

/** A padding option checked (and copied) at construction: each explicit side smaller than the window, as the ops require. */
function paddingOption(p: unknown, op: string, size: [number, number]): Padding2d {
  if (p === undefined || p === null || p === 'valid') return 'valid';
  if (p === 'same') return 'same';
  const bad = () => new Error(`${op}: padding must be 'same', 'valid' or [[top, bottom], [left, right]] with non-negative integers smaller than the ${size[0]}x${size[1]} window, got ${describe(p)}`);
  if (!Array.isArray(p) || p.length !== 2) throw bad();
  const sides = p.map((side, axis) => {
    if (!Array.isArray(side) || side.length !== 2) throw bad();
    return side.map((v) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= size[axis]) throw bad();
      return v;
    });
  });
  return [[sides[0][0], sides[0][1]], [sides[1][0], sides[1][1]]];
}

abstract class Pool2dLayer extends Module {
  readonly size: [number, number];
  readonly stride: [number, number];
  readonly padding: Padding2d;
  protected abstract readonly stageType: string;

  constructor(protected readonly op: string, size: number | [number, number], options: Pool2dLayerOptions | null) {
    super();
    if (size === undefined || size === null) throw new Error(`${op}: size (the window: an integer or [h, w]) is required, e.g. new nn.${op}(2)`);
    this.size = pair(size, op, 'size', 1);
    const o = readOptions<Pool2dLayerOptions>(options, op);
    this.stride = o.stride === undefined ? [this.size[0], this.size[1]] : pair(o.stride, op, 'stride', 1);
    this.padding = paddingOption(o.padding, op, this.size);
  }

  protected get window(): { size: [number, number]; stride: [number, number]; padding: Padding2d } {
    return { size: this.size, stride: this.stride, padding: this.padding };
  }

  /** Frozen form: a float stage replaying the op with this window. */
  freezeStage(ctx: FreezeContext): FrozenStage {
    return ctx.stage(this.stageType, {}, { size: [...this.size], stride: [...this.stride], padding: structuredClone(this.padding) });
  }
}

/** Max over each window of NHWC images (gradient to the first maximal cell of each window). */
export class MaxPool2d extends Pool2dLayer {
  protected readonly stageType = 'maxpool2d';

  constructor(size: number | [number, number], options: Pool2dLayerOptions | null = {}) {
    super('MaxPool2d', size, options);
  }

  forward(x: Tensor): Tensor {
    checkInputTensor(x, this.op);
    return maxPool2dOp(this.op, x, this.window);
  }

  /** Comparisons only: no multiply-accumulates. */
  summaryMacs(): Macs {
    return { binary: 0, binaryWeights: 0, int8: 0, float: 0 };
  }
}

/** Mean over each window's valid (non-padded) cells of NHWC images (TF/Keras; not PyTorch's count_include_pad). */
export class AvgPool2d extends Pool2dLayer {
  protected readonly stageType = 'avgpool2d';

  constructor(size: number | [number, number], options: Pool2dLayerOptions | null = {}) {
    super('AvgPool2d', size, options);
  }

  forward(x: Tensor): Tensor {
    checkInputTensor(x, this.op);
    return avgPool2dOp(this.op, x, this.window);
  }

  /** One add per window cell per output (padded cells included: an upper bound at the borders). */
  summaryMacs(_input: readonly number[], output: readonly number[]): Macs {
    return { binary: 0, binaryWeights: 0, int8: 0, float: output.reduce((a, b) => a * b, 1) * this.size[0] * this.size[1] };
  }
}

/** Mean over H and W: [N, H, W, C] -> [N, C]. */
export class GlobalAvgPool2d extends Module {
  forward(x: Tensor): Tensor {
    checkInputTensor(x, 'GlobalAvgPool2d');
    return globalAvgPool2dOp('GlobalAvgPool2d', x);
  }

  freezeStage(ctx: FreezeContext): FrozenStage {
    return ctx.stage('globalavgpool2d', {}, {});
  }

  /** One add per input element. */
  summaryMacs(input: readonly number[]): Macs {
    return { binary: 0, binaryWeights: 0, int8: 0, float: input.reduce((a, b) => a * b, 1) };
  }
}
