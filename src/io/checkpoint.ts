import { Dropout } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { Chain, Optimizer, planOptimizerLoad } from '../nn/optim.js';
import { LRSchedule, planScheduleLoad } from '../nn/schedules.js';
import { checkJson, checkRecord, isPlainObject, own, type OptimizerState, type StateValue } from '../nn/state.js';
import { describe } from '../tensor/checks.js';
import { rngState, setRngState, type RngState } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { parseSafetensors, saveSafetensors, type Safetensors } from './safetensors.js';
import { readSource, type ByteSource } from './source.js';

/**
 * A checkpoint is one safetensors file. Tensors: "model.<name>" (the model's
 * stateDict) and "optimizer.<name>" (the optimizer's state buffers).
 * Metadata (JSON strings): "snapgrad.checkpoint" (the format version),
 * "snapgrad.optimizer" ({ kind, values }), "snapgrad.schedule",
 * "snapgrad.rng" (rngState()), "snapgrad.dropout" (each Dropout layer's
 * random stream by dotted name: a layer draws its masks from its own stream,
 * not from the default generator) and "snapgrad.extra" (the user's values).
 */
const VERSION = '1';
const KEY = { version: 'snapgrad.checkpoint', optimizer: 'snapgrad.optimizer', schedule: 'snapgrad.schedule', rng: 'snapgrad.rng', dropout: 'snapgrad.dropout', extra: 'snapgrad.extra' } as const;
const MODEL = 'model.';
const OPTIMIZER = 'optimizer.';

export interface SaveCheckpointOptions {
  model: Module;
  optimizer?: Optimizer<any> | Chain;
  schedule?: LRSchedule;
  /** Store the default generator's state (sg.rngState()), restored on load (default true). */
  rng?: boolean;
  /** Your own JSON values (epoch, step, config, ...), returned by loadCheckpoint. */
  extra?: StateValue;
}

export interface LoadCheckpointOptions {
  model: Module;
  /** Required when the file holds optimizer state you want back; omitted, that state is ignored. */
  optimizer?: Optimizer<any> | Chain;
  /** Required when the file holds schedule state you want back; omitted, that state is ignored. */
  schedule?: LRSchedule;
}

export interface LoadedCheckpoint {
  /** The `extra` values given to saveCheckpoint (undefined when none were). */
  extra: StateValue | undefined;
  /** The generator state that was restored (undefined when the file has none). */
  rng: RngState | undefined;
}

function readTargets(options: unknown, op: string): { model: Module; optimizer?: Optimizer<any> | Chain; schedule?: LRSchedule; rest: Record<string, unknown> } {
  if (!isPlainObject(options)) throw new Error(`${op}: options must be an object { model, optimizer?, schedule? }, got ${describe(options)}`);
  const { model, optimizer, schedule, ...rest } = options;
  if (!(model instanceof Module)) throw new Error(`${op}: options.model must be a Module, got ${describe(model)}`);
  if (optimizer !== undefined && !(optimizer instanceof Optimizer) && !(optimizer instanceof Chain)) {
    throw new Error(`${op}: options.optimizer must be an optimizer (SGD, Adam, AdamW, Bop, Chain), got ${describe(optimizer)}`);
  }
  if (schedule !== undefined && !(schedule instanceof LRSchedule)) throw new Error(`${op}: options.schedule must be an LR schedule (StepLR, CosineLR), got ${describe(schedule)}`);
  return { model, optimizer: optimizer as Optimizer<any> | Chain | undefined, schedule: schedule as LRSchedule | undefined, rest };
}

/**
 * Serializes a training run to safetensors bytes: the model's parameters and
 * buffers, the optimizer's state, the schedule's state, the default
 * generator's state and your `extra` JSON values, so that loadCheckpoint
 * resumes it bit for bit (save what else your loop needs, e.g. the epoch, in
 * `extra`). Write the bytes with fs.writeFileSync or any storage.
 */
export function saveCheckpoint(options: SaveCheckpointOptions): Uint8Array {
  const op = 'saveCheckpoint';
  const { model, optimizer, schedule, rest } = readTargets(options, op);
  const unknown = Object.keys(rest).filter((k) => k !== 'rng' && k !== 'extra');
  if (unknown.length) throw new Error(`${op}: unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')} (expected model, optimizer, schedule, rng, extra)`);
  if (rest.rng !== undefined && typeof rest.rng !== 'boolean') throw new Error(`${op}: options.rng must be a boolean, got ${describe(rest.rng)}`);
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(model.stateDict())) {
    if (t.disposed) throw new Error(`${op}: the model's tensor "${name}" (tensor #${t.id}) was disposed (the model was disposed?)`);
    tensors[MODEL + name] = t;
  }
  const metadata: Record<string, string> = { [KEY.version]: VERSION, [KEY.dropout]: JSON.stringify(Object.fromEntries(dropouts(model).map(([n, d]) => [n, d['stream']]))) };
  if (optimizer !== undefined) {
    let st: OptimizerState;
    try {
      st = optimizer.stateDict();
    } catch (err) {
      throw new Error(`${op}: ${(err as Error).message}`);
    }
    for (const [name, t] of Object.entries(st.tensors)) {
      if (t.disposed) throw new Error(`${op}: the optimizer's state tensor "${name}" was disposed (the optimizer was disposed?)`);
      tensors[OPTIMIZER + name] = t;
    }
    metadata[KEY.optimizer] = JSON.stringify({ kind: st.kind, values: st.values });
  }
  if (schedule !== undefined) metadata[KEY.schedule] = JSON.stringify(schedule.stateDict());
  if (rest.rng !== false) metadata[KEY.rng] = JSON.stringify(rngState());
  if (rest.extra !== undefined) metadata[KEY.extra] = JSON.stringify(checkJson(rest.extra, op, 'options.extra'));
  return saveSafetensors(tensors, metadata);
}

/**
 * Restores a checkpoint from saveCheckpoint (bytes, a path, a URL or a
 * Response) into the model and, when given, the optimizer and schedule, and
 * restores the default generator (sg.setRngState). The whole file is checked
 * against them first: a file that does not fit or was damaged is a clear
 * error and changes nothing.
 */
export async function loadCheckpoint(source: ByteSource, options: LoadCheckpointOptions): Promise<LoadedCheckpoint> {
  const op = 'loadCheckpoint';
  const { model, optimizer, schedule, rest } = readTargets(options, op);
  const unknown = Object.keys(rest);
  if (unknown.length) throw new Error(`${op}: unknown option ${unknown.map((k) => JSON.stringify(k)).join(', ')} (expected model, optimizer, schedule)`);
  const { bytes, name } = await readSource(source, op);
  let file: Safetensors;
  try {
    file = parseSafetensors(bytes, name);
  } catch (err) {
    throw new Error(`${op}: ${(err as Error).message}`);
  }
  try {
    return restore(file.tensors, file.metadata, name, model, optimizer, schedule);
  } finally {
    for (const t of Object.values(file.tensors)) t.dispose();
  }
}

function restore(tensors: Record<string, Tensor>, metadata: Record<string, string>, name: string, model: Module, optimizer: Optimizer<any> | Chain | undefined, schedule: LRSchedule | undefined): LoadedCheckpoint {
  const op = 'loadCheckpoint';
  const fail = (what: string): never => {
    throw new Error(`${op}: ${name} is not a usable snapgrad checkpoint: ${what}`);
  };
  if (metadata[KEY.version] !== VERSION) {
    fail(own(metadata, KEY.version) ? `its format version is ${JSON.stringify(metadata[KEY.version])}, expected "${VERSION}"` : `it has no "${KEY.version}" metadata (a plain safetensors file? load it with loadSafetensors and model.loadStateDict)`);
  }
  const known: string[] = Object.values(KEY);
  const strange = Object.keys(metadata).filter((k) => !known.includes(k));
  if (strange.length) fail(`unexpected metadata ${strange.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}`);
  const json = (key: string): unknown => {
    if (!own(metadata, key)) return undefined;
    try {
      return JSON.parse(metadata[key]);
    } catch {
      return fail(`the "${key}" metadata is not valid JSON`);
    }
  };
  // Null-prototype records: a tensor named "model.__proto__" stays a plain entry.
  const modelState: Record<string, Tensor> = Object.create(null);
  const optimizerTensors: Record<string, Tensor> = Object.create(null);
  for (const [key, t] of Object.entries(tensors)) {
    if (key.startsWith(MODEL)) modelState[key.slice(MODEL.length)] = t;
    else if (key.startsWith(OPTIMIZER)) optimizerTensors[key.slice(OPTIMIZER.length)] = t;
    else fail(`unexpected tensor ${JSON.stringify(key)} (names start with "${MODEL}" or "${OPTIMIZER}")`);
  }

  // Everything is checked (and each write planned) before the first write.
  const writes: (() => void)[] = [];
  const optimizerState = json(KEY.optimizer);
  if (optimizerState === undefined && Object.keys(optimizerTensors).length > 0) fail(`it has optimizer tensors but no "${KEY.optimizer}" metadata`);
  if (optimizer !== undefined) {
    if (optimizerState === undefined) throw new Error(`${op}: ${name} holds no optimizer state; pass no optimizer, or a checkpoint saved with one`);
    const st = checkRecord(optimizerState, ['kind', 'values'], op, `the optimizer state of ${name}`);
    writes.push(planOptimizerLoad(optimizer, { kind: st.kind, tensors: optimizerTensors, values: st.values }, op, `the optimizer state of ${name}`));
  }
  const scheduleState = json(KEY.schedule);
  if (schedule !== undefined) {
    if (scheduleState === undefined) throw new Error(`${op}: ${name} holds no schedule state; pass no schedule, or a checkpoint saved with one`);
    writes.push(planScheduleLoad(schedule, scheduleState, op, `the schedule state of ${name}`));
  }
  const rng = json(KEY.rng);
  if (rng !== undefined) {
    const st = checkRecord(rng, ['seed', 'counter'], op, `the "${KEY.rng}" metadata of ${name}`);
    const seed = st.seed;
    const counter = st.counter;
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) fail(`its "${KEY.rng}" seed ${describe(seed)} is not an integer in [0, 2^32 - 1]`);
    if (typeof counter !== 'number' || !Number.isInteger(counter) || counter < 0 || counter > Number.MAX_SAFE_INTEGER) fail(`its "${KEY.rng}" counter ${describe(counter)} is not a non-negative safe integer`);
    writes.push(() => setRngState({ seed: seed as number, counter: counter as number }));
  }
  const streams = json(KEY.dropout);
  if (streams !== undefined) {
    const layers = dropouts(model);
    const st = checkRecord(streams, layers.map(([n]) => n), op, `the "${KEY.dropout}" metadata of ${name} (the model's Dropout layers)`);
    for (const [n, d] of layers) {
      const v = st[n];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 32 - 1) fail(`its "${KEY.dropout}" stream of layer ${JSON.stringify(n)} is ${describe(v)}, not an integer in [0, 2^32 - 1]`);
      writes.push(() => {
        d['stream'] = v as number;
      });
    }
  }
  const extra = json(KEY.extra) as StateValue | undefined;
  // The model's own load checks every tensor before it writes any, and is the last check.
  try {
    model.loadStateDict(modelState);
  } catch (err) {
    throw new Error(`${op}: the model state in ${name} does not fit the model: ${(err as Error).message}`);
  }
  for (const write of writes) write();
  return { extra, rng: rng === undefined ? undefined : { ...(rng as RngState) } };
}

/** The model's Dropout layers by dotted name (the model itself is named ""). */
function dropouts(model: Module): [string, Dropout][] {
  return model.namedModules().filter((e): e is [string, Dropout] => e[1] instanceof Dropout);
}
