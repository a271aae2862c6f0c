import { noGrad } from '../autograd/tape.js';
import { mul } from '../ops/elementwise.js';
import { checkDType, describe } from '../tensor/checks.js';
import { bytesPerElement } from '../tensor/dtypes.js';
import { keep, tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { asFloat, createStage } from './stages.js';
import type { Activation, FrozenStage } from './types.js';

const MAX_STAGES = 4096;

/**
 * An inference model made by freeze(): a DAG of stages. Value 0 is the input,
 * value i + 1 the output of stage i; stage i reads the values in inputs[i]
 * (all < i + 1), and the last stage's output is the model's output. Binary
 * layers store packed bits and run XNOR-popcount kernels (batch norm +
 * binarize folded into per-channel thresholds that give the same bits as the
 * trained model), quant layers store int8 weights and run the int8 kernels,
 * float layers and recorded ops run as float stages.
 */
export class FrozenModel {
  readonly inputs: readonly (readonly number[])[];

  /** inputs defaults to a chain (stage i reads value i). */
  constructor(readonly stages: FrozenStage[], inputs?: number[][]) {
    this.inputs = inputs ?? stages.map((_, i) => [i]);
    checkGraph(this.stages, this.inputs, 'FrozenModel');
  }

  /**
   * Runs the model on a batch [batch, features]; returns float32 outputs
   * (logits). x is float32, or uint8 (raw bytes, no float copy) when the first
   * layer was frozen with uint8 inputs.
   */
  predict(x: Tensor): Tensor {
    checkDType(x, 'FrozenModel.predict', 'x', 'float32', 'uint8');
    if (x.dtype === 'uint8' && !this.takesUint8()) {
      throw new Error('FrozenModel.predict: x is uint8, but this model\'s first layer takes float32 inputs (freeze with { uint8Inputs: true }, or a BinaryLinear with uint8Inputs, to feed raw bytes)');
    }
    return noGrad(() =>
      tidy(() => {
        const values: Activation[] = [{ kind: 'float', t: x }];
        for (let i = 0; i < this.stages.length; i++) {
          const s = this.stages[i];
          const refs = this.inputs[i];
          const a = values[refs[0]];
          const want = s.inputFeatures;
          if (want !== undefined) {
            const got = a.kind === 'bits' ? a.k : a.t.rank === 2 ? a.t.shape[1] : -1;
            if (got !== want) {
              const shape = a.kind === 'bits' ? `[${a.t.shape[0]}, ${a.k}]` : `[${a.t.shape}]`;
              throw new Error(`FrozenModel.predict: stage ${i} (${s.type}) takes [batch, ${want}] inputs, got ${shape}${refs[0] === 0 ? ' (x has the wrong number of features)' : ''}`);
            }
          }
          try {
            // One input is the common case: no argument array to build.
            values.push(refs.length === 1 ? s.run(a) : s.run(...refs.map((v) => values[v])));
          } catch (err) {
            const msg = (err as Error).message;
            throw new Error(msg.startsWith('FrozenModel.predict') ? msg : `FrozenModel.predict: stage ${i} (${s.type}): ${msg}`);
          }
        }
        const y = asFloat(values[values.length - 1]);
        return y === x ? mul(x, 1) : y;
      }),
    );
  }

  /** Whether every stage that reads the input (through Flatten) takes uint8 values (the stages never change: computed once). */
  private takesUint8(): boolean {
    return (this.uint8Input ??= this.readsUint8());
  }

  private uint8Input: boolean | undefined;

  private readsUint8(): boolean {
    const accepts = (value: number): boolean => {
      const readers = this.stages.map((s, i) => ({ s, i })).filter(({ i }) => this.inputs[i].includes(value));
      return readers.length > 0 && readers.every(({ s, i }) => s.acceptsUint8 === true || (s.type === 'flatten' && accepts(i + 1)));
    };
    return accepts(0);
  }

  /** Bytes of stored weights and constants. */
  get sizeBytes(): number {
    let n = 0;
    for (const s of this.stages) for (const t of Object.values(s.tensors)) n += t.size * bytesPerElement(t.dtype);
    return n;
  }

  summary(): string {
    const chain = this.inputs.every((ins, i) => ins.length === 1 && ins[0] === i);
    return this.stages
      .map((s, i) => `${String(i).padStart(2)}  ${s.type.padEnd(13)} ${s.description}${chain ? '' : `  <- ${this.inputs[i].map((v) => (v === 0 ? 'input' : `#${v - 1}`)).join(', ')}`}`)
      .join('\n');
  }

  /** All stored tensors by "index.name", plus the architecture, for saving with io.saveSafetensors. */
  state(): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
    const tensors: Record<string, Tensor> = {};
    this.stages.forEach((s, i) => {
      for (const [name, t] of Object.entries(s.tensors)) tensors[`${i}.${name}`] = t;
    });
    const architecture = this.stages.map((s, i) => ({ type: s.type, config: s.config, inputs: this.inputs[i] }));
    return { tensors, metadata: { format: 'snapgrad-frozen', version: '2', architecture: JSON.stringify(architecture) } };
  }

  /**
   * Rebuilds a frozen model from state() output (e.g. loaded with
   * io.loadSafetensors). A model file is untrusted input: every stage's config,
   * every tensor's name, dtype and shape, and every graph reference are checked
   * before anything runs, and a rejected state leaves the given tensors as they
   * were (on success the model owns them). Reads versions 1 (a chain) and 2.
   */
  static fromState(tensors: Record<string, Tensor>, metadata: Record<string, string>): FrozenModel {
    const where = 'FrozenModel.fromState';
    if (tensors === null || typeof tensors !== 'object') throw new Error(`${where}: tensors must be an object of tensors by name, got ${describe(tensors)}`);
    if (metadata === null || typeof metadata !== 'object') throw new Error(`${where}: metadata must be an object of strings, got ${describe(metadata)}`);
    if (metadata.format !== 'snapgrad-frozen') throw new Error(`${where}: metadata.format must be "snapgrad-frozen", got ${describe(metadata.format)}`);
    const version = metadata.version;
    if (version !== '1' && version !== '2') throw new Error(`${where}: metadata.version must be "1" or "2", got ${describe(version)}`);
    let arch: unknown;
    try {
      arch = JSON.parse(metadata.architecture);
    } catch {
      throw new Error(`${where}: metadata.architecture is not valid JSON`);
    }
    if (!Array.isArray(arch) || arch.length === 0 || arch.length > MAX_STAGES) throw new Error(`${where}: metadata.architecture must be an array of 1 to ${MAX_STAGES} stages`);
    // Prototype-less records: a tensor named "0.__proto__" is just an unexpected name.
    const own: Record<string, Tensor>[] = arch.map(() => Object.create(null) as Record<string, Tensor>);
    for (const [name, t] of Object.entries(tensors)) {
      const m = /^(0|[1-9]\d*)\.(.+)$/.exec(name);
      const i = m === null ? -1 : Number(m[1]);
      if (m === null || i >= arch.length) throw new Error(`${where}: unexpected tensor "${name}" (names are "<stage>.<tensor>" for stages 0..${arch.length - 1})`);
      if (!(t instanceof Tensor) || t.disposed) throw new Error(`${where}: tensor "${name}" must be a live tensor, got ${describe(t)}`);
      own[i][m[2]] = t;
    }
    const graph: number[][] = [];
    const stages = arch.map((s: any, i: number) => {
      const at = `${where}: stage ${i}`;
      if (s === null || typeof s !== 'object' || Array.isArray(s)) throw new Error(`${at} must be an object { type, config${version === '2' ? ', inputs' : ''} }`);
      graph.push(version === '1' ? [i] : s.inputs);
      return createStage(s.type, own[i], s.config, `${at} (${describe(s.type)})`);
    });
    checkGraph(stages, graph, where);
    for (const t of Object.values(tensors)) keep(t);
    return new FrozenModel(stages, graph);
  }

  dispose(): void {
    // Runtime caches (packed weights) live with the stored tensors and go with them.
    for (const s of this.stages) for (const t of Object.values(s.tensors)) t.dispose();
  }
}

function checkGraph(stages: FrozenStage[], inputs: readonly (readonly number[])[], where: string): void {
  if (!Array.isArray(stages) || stages.length === 0) throw new Error(`${where}: a frozen model needs at least one stage`);
  if (!Array.isArray(inputs) || inputs.length !== stages.length) throw new Error(`${where}: inputs must list the inputs of each of the ${stages.length} stages`);
  inputs.forEach((ins, i) => {
    const want = stages[i].type === 'op' ? (stages[i].config.inputs as number) : 1;
    if (!Array.isArray(ins) || ins.length !== want || !ins.every((v) => Number.isInteger(v) && v >= 0 && v <= i)) {
      throw new Error(`${where}: stage ${i} must read ${want} value${want > 1 ? 's' : ''}, each the input (0) or an earlier stage's output (1..${i}), got ${JSON.stringify(ins)}`);
    }
  });
  // Widths where both ends know them: a stage must read rows as wide as the stage before it writes.
  const widths: (number | null)[] = [null];
  stages.forEach((s, i) => {
    const got = widths[inputs[i][0]];
    const want = s.inputFeatures;
    if (want !== undefined && got !== null && got !== want) {
      throw new Error(`${where}: stage ${i} (${s.type}) takes rows of ${want} features, but value ${inputs[i][0]} has ${got}`);
    }
    widths.push(s.outputWidth?.(got) ?? null);
  });
}
