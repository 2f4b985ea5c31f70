/**
 * `fit`: a fold of a training step over epochs and batches, with an
 * evaluation fold per epoch and a divergence guard. It is extended by what
 * it is handed: the step (data-parallel training supplies its own), observers
 * and callbacks (checkpoint savers).
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { backendInfo } from '../backend_info.ts';
import { ensureEngine } from '../engine_choice.ts';
import type { Batch, Loader } from '../data/loader.ts';
import * as t from 'io-ts';
import {
  decodeArg,
  func,
  guard,
  NonNegative,
  NonNegativeInt,
  optionSet,
  type OptionSetOf,
  type OptionsOf,
  Positive,
  PositiveInt,
  PrngKey,
  type SameType,
  typesAgree,
} from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { AnyLayer, FlowShape } from '../layer.ts';
import { adamW } from '../optim/aliases.ts';
import { type AnyTransformation, type StepSchedule, Transformation } from '../optim/base.ts';
import { freeze } from '../optim/partition.ts';
import { oneCycle, oneCycleFields, perStep } from '../optim/schedules.ts';
import { groupedOpt, groupLrs, type LrSlice, LrSliceCodec } from './param_groups.ts';
import { isKey, type Key, prngKey } from '../random.ts';
import type { Callback } from './callbacks.ts';
import { describeNonFinite, type NonFinite, nonFiniteTensors } from './finite.ts';
import { crossEntropy, type Loss } from './losses.ts';
import { classCountProblems, compareTrainState } from './structure.ts';
import { accuracy, type Metric, runningMean } from './metrics.ts';
import { type EpochRow, epochTable, type Observer } from './observers.ts';
import {
  disposeReplacedTrainState,
  disposeTrainState,
  evalValues,
  initTrainStateAndShape,
  LossFn,
  Metrics,
  type StepResult,
  type TrainState,
  trainStep,
} from './step.ts';

/** Training and (optional) validation data. */
export interface Data {
  /** What `fit` trains on, a pass per epoch. */
  readonly train: Loader;
  /** What each epoch is evaluated on; without it the epoch rows' `validLoss` and metrics are NaN. */
  readonly valid?: Loader;
}

const record = <R>(name: string): t.Type<R, R, unknown> => guard<R>(name, (u) => typeof u === 'object' && u !== null);
const TrainStateCodec: t.Type<TrainState, TrainState, unknown> = guard<TrainState>(
  'a train state {params, state, optState, step, key}',
  (u) =>
    typeof u === 'object' && u !== null && ['params', 'state', 'optState'].every((k) => k in u) && Number.isInteger((u as TrainState).step) &&
    isKey((u as TrainState).key),
);
const Observers: t.ReadonlyArrayC<t.Type<Observer, Observer, unknown>> = t.readonlyArray(record<Observer>('an observer'));
const Callbacks: t.ReadonlyArrayC<t.Type<Callback, Callback, unknown>> = t.readonlyArray(record<Callback>('a callback'));
const StepFactoryFn: t.Type<StepFactory, StepFactory, unknown> = func<StepFactory>('a step factory ({ model, loss, opt }) => step');

/** Options of {@link fit}. */
export interface FitOptions {
  /** Passes over the training data. */
  readonly epochs: number;
  /** The optimizer. */
  readonly opt: AnyTransformation;
  /** The loss. Default `crossEntropy`. */
  readonly loss?: Loss;
  /** Metrics computed on the validation data. Default `[accuracy]`. */
  readonly metrics?: readonly Metric[];
  /** Start from this state (fit takes ownership of it); else a fresh one from `key`. */
  readonly trainState?: TrainState;
  /** Key of a fresh train state. Default `prngKey(0)`. */
  readonly key?: Key;
  /** What is reported to, as numbers. Default `[epochTable()]`. */
  readonly observers?: readonly Observer[];
  /** What is called with the train state, e.g. `saveCheckpoints(...)` from `tsnn/node`. Default none. */
  readonly callbacks?: readonly Callback[];
  /** Stop after this many steps in total (the state's step counter). */
  readonly maxSteps?: number;
  /**
   * Builds the step to fold from the model, loss and optimizer, e.g.
   * `dataParallel({ workers: 2, spec })`. Default: `trainStep(model, loss, opt)`
   * on the calling thread. `fit` closes the step when it is done.
   */
  readonly step?: StepFactory;
}

/** The option fields that `fit` and `fitOneCycle` share. */
const fitFields = {
  loss: LossFn,
  metrics: Metrics,
  trainState: TrainStateCodec,
  key: PrngKey,
  observers: Observers,
  callbacks: Callbacks,
  maxSteps: NonNegativeInt,
  step: StepFactoryFn,
};
const fitRequired = { epochs: PositiveInt, opt: Transformation };
const FitOptionSet: OptionSetOf<typeof fitRequired, typeof fitFields> = optionSet('fit', fitRequired, fitFields);
typesAgree<SameType<FitOptions, OptionsOf<typeof FitOptionSet>>>();

/** A training step as `fit` folds it: synchronous or awaited, with resources `fit` releases when done. */
export type Step = ((ts: TrainState, batch: Batch) => StepResult | Promise<StepResult>) & { close?(): Promise<void> };

/** What a step is built from. */
export interface StepParts {
  /** The model being trained. */
  readonly model: AnyLayer;
  /** The loss, `fit`'s `loss` option or its default. */
  readonly loss: Loss;
  /** The optimizer. */
  readonly opt: AnyTransformation;
}

/** Builds a step; `fit` calls it once, before the first epoch. */
export type StepFactory = (parts: StepParts) => Step | Promise<Step>;

/** The final train state and one row per epoch. */
export interface FitResult {
  /** The state after the last step; the caller owns it (dispose it with `disposeTrainState`). */
  readonly trainState: TrainState;
  /** One row per epoch run, as the observers saw them. */
  readonly history: readonly EpochRow[];
  /** Why training ended before `epochs`, when a callback stopped it (see `earlyStopping`). */
  readonly stopped?: string;
}

/**
 * Training diverged: a step gave a non-finite loss, or a NaN or infinity in
 * a parameter, statistic or optimizer moment (a NaN can hide behind a finite
 * loss). `lastGood` is the state before that step: every value finite, so it
 * can be saved and loaded; the caller owns it. `tensors` lists what went bad,
 * first the tensor the step made first.
 *
 * @example
 * ```ts
 * import { dataLoader, dense, disposeTrainState, DivergenceError, fit, sgd } from 'tsnn';
 *
 * const ds = { x: Float32Array.from({ length: 16 }, (_, i) => i), y: Int32Array.from([0, 1, 0, 1]), shape: [4] };
 * try {
 *   // A learning rate of 1e38 overflows float32 in the first update.
 *   await fit(dense({ nf: 2 }), { train: dataLoader(ds, { batchSize: 4 }) }, { epochs: 3, opt: sgd(1e38), observers: [] });
 *   throw new Error('expected a DivergenceError');
 * } catch (e) {
 *   if (!(e instanceof DivergenceError)) throw e;
 *   console.log(e.step, e.tensors.length > 0); // 0 true
 *   disposeTrainState(e.lastGood); // or await saveCheckpoint('last-good.safetensors', e.lastGood), from tsnn/node
 * }
 * ```
 */
export class DivergenceError extends Error {
  /** `'DivergenceError'`. */
  override name = 'DivergenceError';
  /**
   * Build the error and its message from what the step left.
   *
   * @param step the step counter before the step that diverged
   * @param epoch the epoch, 0-based
   * @param loss that step's loss
   * @param lastGood the state before that step
   * @param notes what callbacks added (e.g. where they saved `lastGood`)
   * @param tensors the non-finite tensors, first the one made first
   */
  constructor(
    readonly step: number,
    readonly epoch: number,
    readonly loss: number,
    readonly lastGood: TrainState,
    notes: readonly string[] = [],
    readonly tensors: readonly NonFinite[] = [],
  ) {
    const what = tensors.length === 0
      ? `loss ${loss}`
      : `${Number.isFinite(loss) ? `loss ${loss} is finite, but ` : `loss ${loss}; `}${describeNonFinite(tensors[0])}${
        tensors.length > 1 ? ` (and ${tensors.length - 1} more tensor${tensors.length > 2 ? 's' : ''})` : ''
      }`;
    super(`training diverged at step ${step} (epoch ${epoch}): ${what}; the last good state is in error.lastGood${notes.map((n) => `; ${n}`).join('')}`);
  }
}

const disposeBatch = (b: Batch) => {
  b.x.dispose();
  b.y.dispose();
};

/** Yield to the event loop, so progress bars and signals get a turn. */
const tick = () => new Promise<void>((r) => setTimeout(r, 0));

/**
 * Evaluate on a loader: mean loss and metrics, weighted by batch size. It
 * reads the values with `data()`, 32 batches at a time, so a GPU is waited on
 * once per 32 batches rather than once per batch.
 * `onBatch(done, total)`, if given, is called after each batch (`fit`
 * reports it to observers as `onValidBatchEnd`, for the table's progress bar).
 *
 * @example
 * ```ts
 * import { adamW, dataLoader, dense, disposeTrainState, evaluate, initTrainState, prngKey } from 'tsnn';
 *
 * const model = dense({ nf: 2 });
 * const ts = initTrainState(model, adamW(1e-3), prngKey(0), [4]);
 * const valid = dataLoader({ x: new Float32Array(8 * 4), y: Int32Array.from({ length: 8 }, (_, i) => i % 2), shape: [4] }, { batchSize: 4, shuffle: false });
 * const { loss, metrics } = await evaluate(model, ts, valid);
 * console.log(loss.toFixed(4), metrics); // 0.6952 { accuracy: 0.5 }
 * disposeTrainState(ts);
 * ```
 */
export const evaluate = async (
  model: AnyLayer,
  ts: Pick<TrainState, 'params' | 'state'>,
  loader: Loader,
  loss: Loss = crossEntropy,
  metrics: readonly Metric[] = [accuracy],
  onBatch?: (done: number, total: number) => void,
): Promise<{ loss: number; metrics: Record<string, number> }> => {
  decodeArg('evaluate.loss', LossFn, loss);
  decodeArg('evaluate.metrics', Metrics, metrics);
  const values = evalValues(model, loss, metrics);
  const l = runningMean(), ms = metrics.map(() => runningMean());
  // Batches are read READ_EVERY at a time: a GPU runs ahead instead of waiting on each batch.
  let pending: { values: tf.Tensor1D; n: number }[] = [];
  const drain = async () => {
    const batches = pending;
    pending = [];
    const all = tf.tidy(() => tf.stack(batches.map((b) => b.values)));
    tf.dispose(batches.map((b) => b.values));
    try {
      const v = await all.data(), width = metrics.length + 1;
      batches.forEach(({ n }, i) => {
        l.add(v[i * width], n);
        ms.forEach((m, j) => m.add(v[i * width + 1 + j], n));
      });
    } finally {
      all.dispose();
    }
  };
  let done = 0;
  try {
    for (const batch of loader.batches(0)) {
      try {
        pending.push({ values: values(ts, batch), n: batch.x.shape[0] });
      } finally {
        disposeBatch(batch);
      }
      if (pending.length >= READ_EVERY) await drain();
      done++;
      onBatch?.(done, loader.length);
    }
    if (pending.length) await drain();
  } finally {
    tf.dispose(pending.map((b) => b.values));
  }
  return { loss: l.value, metrics: Object.fromEntries(metrics.map((m, i) => [m.name, ms[i].value])) };
};

/** How many evaluation batches `evaluate` reads at once. */
const READ_EVERY = 32;

/**
 * Train: fold `trainStep` over `epochs` passes of `data.train`, evaluating on
 * `data.valid` after each. Leak-free: each replaced state is disposed.
 * Resuming from a state with `step > 0` continues mid-epoch exactly where it stopped.
 *
 * @example
 * ```ts
 * import { adamW, dataLoader, dense, disposeTrainState, fit } from 'tsnn';
 *
 * const ds = { x: Float32Array.from({ length: 16 * 4 }, (_, i) => i % 3), y: Int32Array.from({ length: 16 }, (_, i) => i % 2), shape: [4] };
 * const train = dataLoader(ds, { batchSize: 8 }), valid = dataLoader(ds, { batchSize: 8, shuffle: false });
 * const { trainState, history } = await fit(dense({ nf: 2 }), { train, valid }, { epochs: 2, opt: adamW(3e-3), observers: [] });
 * console.log(trainState.step, history.map((r) => r.epoch)); // 4 [ 0, 1 ]
 * disposeTrainState(trainState);
 * ```
 */
export const fit = async (model: AnyLayer, data: Data, options: FitOptions): Promise<FitResult> => {
  const opts = FitOptionSet.decode(options);
  if (data.train.length < 1) throw new ConfigError(['fit.data.train: the loader yields no batches']);
  // Before the first tensor of the run: with no engine chosen, the fastest one here (wasm on every core).
  await ensureEngine('fit');
  const loss = opts.loss ?? crossEntropy;
  const metrics = opts.metrics ?? [accuracy];
  const observers = opts.observers ?? [epochTable()];
  const build: StepFactory = opts.step ?? ((parts) => trainStep(parts.model, parts.loss, parts.opt));
  return fold({ model, data, opts, loss, metrics, observers, callbacks: opts.callbacks ?? [] }, build);
};

/** What one call of `fit` works with, its options decoded and defaulted. */
interface Run {
  readonly model: AnyLayer;
  readonly data: Data;
  readonly opts: FitOptions;
  readonly loss: Loss;
  readonly metrics: readonly Metric[];
  readonly observers: readonly Observer[];
  readonly callbacks: readonly Callback[];
}

/** The starting state, checked, and the model's output shape (from the one `init` either path makes). */
const start = async (run: Run): Promise<{ ts: TrainState; outShape: FlowShape }> => {
  const { model, data, opts } = run;
  const given = opts.trainState;
  if (!given) {
    const r = initTrainStateAndShape(model, opts.opt, opts.key ?? prngKey(0), data.train.shape);
    return { ts: r.trainState, outShape: r.outShape };
  }
  const { problems, outShape } = compareTrainState(model, opts.opt, data.train.shape, given);
  if (problems.length) throw new ConfigError(problems.map((p) => `fit.trainState: ${p}`));
  const bad = await nonFiniteTensors(given);
  if (bad.length) throw new ConfigError([`fit.trainState: ${bad.map(describeNonFinite).join('; ')}`]);
  return { ts: given, outShape };
};

const fold = async (run: Run, build: StepFactory): Promise<FitResult> => {
  const { model, data, opts } = run;
  const given = opts.trainState;
  const first = await start(run);
  let ts = first.ts;
  try {
    const misfit = classCountProblems(first.outShape, { train: data.train.nClasses, valid: data.valid?.nClasses });
    if (misfit.length) throw new ConfigError(misfit.map((p) => `fit.data.${p}`));
    // The step is built after the checks: a data-parallel one starts worker threads.
    const step = await build({ model, loss: run.loss, opt: opts.opt });
    try {
      const { history, stopped } = await epochs(run, step, () => ts, (next) => (ts = next));
      return stopped === undefined ? { trainState: ts, history } : { trainState: ts, history, stopped };
    } finally {
      await step.close?.();
    }
  } catch (e) {
    // A diverged run hands its last good state to the caller; any other error
    // releases the states fit made (one it was given and never replaced stays the caller's).
    if (!(e instanceof DivergenceError) && ts !== given) disposeTrainState(ts);
    throw e;
  }
};

const DONE: IteratorResult<Batch> = { done: true, value: undefined };

const epochs = async (
  run: Run,
  step: Step,
  current: () => TrainState,
  replace: (next: TrainState) => void,
): Promise<{ history: EpochRow[]; stopped?: string }> => {
  const { model, data, opts, loss, metrics, observers, callbacks } = run;
  const perEpoch = data.train.length;
  const startEpoch = Math.floor(current().step / perEpoch);
  const info = backendInfo();
  observers.forEach((o) =>
    o.onTrainBegin?.({
      epochs: opts.epochs,
      startEpoch,
      batchesPerEpoch: perEpoch,
      metricNames: metrics.map((m) => m.name),
      backend: `${info.name} (${info.reason})`,
    })
  );
  callbacks.forEach((c) => c.onTrainBegin?.());
  const history: EpochRow[] = [];
  let stopped: string | undefined;
  for (let epoch = startEpoch; epoch < opts.epochs && stopped === undefined; epoch++) {
    const t0 = performance.now();
    const trainLoss = runningMean();
    let b = 0;
    const skip = epoch === startEpoch ? current().step - epoch * perEpoch : 0;
    const it = data.train.batches(epoch)[Symbol.iterator]();
    // The next batch is prepared while the current step awaits its worker threads.
    let next: IteratorResult<Batch> = it.next();
    try {
      while (!next.done) {
        const batch = next.value;
        if (b < skip) {
          next = it.next();
          disposeBatch(batch);
          b++;
          continue;
        }
        const ts = current();
        next = DONE; // until the prefetch below succeeds
        if (opts.maxSteps !== undefined && ts.step >= opts.maxSteps) {
          disposeBatch(batch);
          break;
        }
        const n = batch.x.shape[0];
        let r: StepResult;
        try {
          const pending = step(ts, batch);
          try {
            next = it.next();
          } catch (e) {
            // The loader failed while the step ran: release the step's result before rethrowing.
            await Promise.resolve(pending).then((p) => disposeReplacedTrainState(p.trainState, ts), () => {});
            throw e;
          }
          r = await pending;
        } finally {
          disposeBatch(batch);
        }
        // A step that checked its own state (trainStep does, in its one read) saves the guard a wait of its own.
        const bad = r.finite === true ? [] : await nonFiniteTensors(r.trainState);
        if (!Number.isFinite(r.loss) || bad.length) {
          disposeReplacedTrainState(r.trainState, ts);
          const where = { step: ts.step, epoch, loss: r.loss, tensors: bad }, notes: string[] = [];
          for (const c of callbacks) {
            const note = await c.onDivergence?.(ts, where);
            if (note) notes.push(note);
          }
          throw new DivergenceError(ts.step, epoch, r.loss, ts, notes, bad);
        }
        disposeReplacedTrainState(ts, r.trainState);
        replace(r.trainState);
        trainLoss.add(r.loss, n);
        observers.forEach((o) => o.onBatchEnd?.({ epoch, batch: b, step: r.trainState.step, loss: r.loss }));
        b++;
        await tick();
      }
    } finally {
      // A batch prepared ahead and never stepped on.
      if (!next.done) disposeBatch(next.value);
    }
    const ts = current();
    if (opts.maxSteps !== undefined && ts.step >= opts.maxSteps && b < perEpoch) break;
    const onValid = (batch: number, batches: number) => observers.forEach((o) => o.onValidBatchEnd?.({ epoch, batch, batches }));
    const v = data.valid
      ? await evaluate(model, ts, data.valid, loss, metrics, onValid)
      : { loss: NaN, metrics: Object.fromEntries(metrics.map((m) => [m.name, NaN])) };
    const row: EpochRow = { epoch, trainLoss: trainLoss.value, validLoss: v.loss, metrics: v.metrics, seconds: (performance.now() - t0) / 1000 };
    history.push(row);
    observers.forEach((o) => o.onEpochEnd?.(row));
    for (const c of callbacks) {
      const verdict = await c.onEpochEnd?.(row, ts);
      if (verdict && stopped === undefined) stopped = verdict.stop;
    }
  }
  observers.forEach((o) => o.onTrainEnd?.(history, stopped));
  return stopped === undefined ? { history } : { history, stopped };
};

type OptFactory = (lr: (step: number) => number, mom: (step: number) => number) => AnyTransformation;
const OptFactoryFn: t.Type<OptFactory, OptFactory, unknown> = func<OptFactory>('an optimizer factory (lr, mom) => opt');

/** Options of {@link fitOneCycle}: fit's, less `opt`, plus the one-cycle ones. */
export interface FitOneCycleOptions extends Omit<FitOptions, 'opt'> {
  /**
   * The peak learning rate, or one per parameter group as fastai's
   * `slice(lo, hi)` spreads them (see `groupLrs`).
   */
  readonly lrMax: number | LrSlice;
  /** Initial lr is `lrMax / div`. Default 25. */
  readonly div?: number;
  /** Final lr is `lrMax / divFinal`. Default 1e5. */
  readonly divFinal?: number;
  /** Fraction of training spent warming up. Default 0.25. */
  readonly pctStart?: number;
  /** Momentum (Adam's beta1) at start, middle and end. Default (0.95, 0.85, 0.95). */
  readonly moms?: readonly [number, number, number];
  /** Decoupled weight decay. Default 0.01 (fastai). */
  readonly weightDecay?: number;
  /** Build the optimizer from the lr and momentum schedules. Default AdamW, fastai's defaults. */
  readonly makeOpt?: (lr: StepSchedule, mom: StepSchedule) => AnyTransformation;
  /**
   * Parameter groups, each a list of path prefixes (`[['stem', 'stages'],
   * ['head']]`); each group has its own optimizer and its own rate from
   * `lrMax`. Every param must fall in one. Default one group of everything.
   */
  readonly groups?: readonly (readonly string[])[];
  /** Path prefixes whose params do not train (see `freeze`): no update, no decay, no state. Default none. */
  readonly frozen?: readonly string[];
  /** BatchNorm params under `frozen` still train (fastai's `train_bn`). Default true. */
  readonly trainBn?: boolean;
}

const Prefixes = t.readonlyArray(t.string, 'path prefixes');
const fitOneCycleRequired = { epochs: PositiveInt, lrMax: t.union([Positive, LrSliceCodec], 'a positive number or an lr slice { lo?, hi }') };
const fitOneCycleOptional = {
  ...fitFields,
  ...oneCycleFields,
  weightDecay: NonNegative,
  makeOpt: OptFactoryFn,
  groups: t.readonlyArray(Prefixes, 'groups of path prefixes'),
  frozen: Prefixes,
  trainBn: t.boolean,
};
export const FitOneCycleOptionSet: OptionSetOf<typeof fitOneCycleRequired, typeof fitOneCycleOptional> = optionSet(
  'fitOneCycle',
  fitOneCycleRequired,
  fitOneCycleOptional,
);
typesAgree<SameType<FitOneCycleOptions, OptionsOf<typeof FitOneCycleOptionSet>>>();

/**
 * fastai's `fit_one_cycle`: AdamW whose learning rate and beta1 follow the
 * one-cycle schedules over all the steps of training.
 *
 * @example
 * ```ts
 * import { dataLoader, dense, disposeTrainState, fitOneCycle } from 'tsnn';
 *
 * const ds = { x: Float32Array.from({ length: 16 * 4 }, (_, i) => i % 3), y: Int32Array.from({ length: 16 }, (_, i) => i % 2), shape: [4] };
 * const train = dataLoader(ds, { batchSize: 8 });
 * const { trainState, history } = await fitOneCycle(dense({ nf: 2 }), { train }, { epochs: 1, lrMax: 3e-3, observers: [] });
 * console.log(trainState.step, history[0].validLoss); // 2 NaN (no validation data)
 * disposeTrainState(trainState);
 * ```
 */
export const fitOneCycle = (model: AnyLayer, data: Data, options: FitOneCycleOptions): Promise<FitResult> => {
  const opts = FitOneCycleOptionSet.decode(options);
  const opt = oneCycleOpt(opts, opts.epochs * data.train.length);
  const { lrMax: _lr, div: _d, divFinal: _f, pctStart: _p, moms: _m, weightDecay: _w, makeOpt: _o, groups: _g, frozen: _z, trainBn: _b, ...rest } = opts;
  return fit(model, data, { ...rest, opt });
};

/** The optimizer `fitOneCycle` trains with over `total` steps: per group, one-cycle schedules at that group's rate; frozen params apart. */
export const oneCycleOpt = (opts: Omit<FitOneCycleOptions, 'epochs'>, total: number): AnyTransformation => {
  const groups = opts.groups ?? [['']];
  if (groups.length === 0) throw new ConfigError(['fitOneCycle.groups: expected at least one group, got []']);
  const lrs = groupLrs(opts.lrMax, groups.length);
  const grouped = groupedOpt('fitOneCycle', groups, (i) => {
    const { lr, mom } = oneCycle({ lrMax: lrs[i], div: opts.div, divFinal: opts.divFinal, pctStart: opts.pctStart, moms: opts.moms });
    const lrAt = perStep(lr, total), momAt = perStep(mom, total);
    return opts.makeOpt ? opts.makeOpt(lrAt, momAt) : adamW(lrAt, { b1: momAt, weightDecay: opts.weightDecay ?? 0.01 });
  });
  return opts.frozen?.length ? freeze(grouped, opts.frozen, { trainBn: opts.trainBn ?? true }) : grouped;
};
