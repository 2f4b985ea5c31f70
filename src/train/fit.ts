/**
 * `fit`: a fold of a training step over epochs and batches, with an
 * evaluation fold per epoch and a divergence guard. It is extended by what
 * it is handed: the step (data-parallel training supplies its own), observers
 * and callbacks (checkpoint savers).
 *
 * @module
 */
import { backendInfo } from '../backend_info.ts';
import type { Batch, Loader } from '../data/loader.ts';
import * as t from 'io-ts';
import { decodeArg, func, guard, NonNegative, NonNegativeInt, optionSet, type OptionSetOf, type OptionsOf, Positive, PositiveInt, PrngKey } from '../config.ts';
import { ConfigError } from '../errors.ts';
import type { AnyLayer, FlowShape } from '../layer.ts';
import { adamW } from '../optim/aliases.ts';
import { type AnyTransformation, Transformation } from '../optim/base.ts';
import { oneCycle, oneCycleFields, perStep } from '../optim/schedules.ts';
import { isKey, prngKey } from '../random.ts';
import type { Callback } from './callbacks.ts';
import { describeNonFinite, type NonFinite, nonFiniteTensors } from './finite.ts';
import { crossEntropy, type Loss } from './losses.ts';
import { classCountProblems, compareTrainState } from './structure.ts';
import { accuracy, type Metric, runningMean } from './metrics.ts';
import { type EpochRow, epochTable, type Observer } from './observers.ts';
import {
  disposeReplacedTrainState,
  disposeTrainState,
  evalStep,
  initTrainStateAndShape,
  LossFn,
  Metrics,
  type StepResult,
  type TrainState,
  trainStep,
} from './step.ts';

/** Training and (optional) validation data. */
export interface Data {
  readonly train: Loader;
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

/** The option fields that `fit` and `fitOneCycle` share. */
const fitFields = {
  /** Default `crossEntropy`. */
  loss: LossFn,
  /** Default `[accuracy]`. */
  metrics: Metrics,
  /** Start from this state (fit takes ownership of it); else a fresh one from `key`. */
  trainState: TrainStateCodec,
  /** Key of a fresh train state. Default `prngKey(0)`. */
  key: PrngKey,
  /** What is reported to, as numbers. Default `[epochTable()]`. */
  observers: Observers,
  /** What is called with the train state, e.g. `saveCheckpoints(...)` from the checkpoint module. Default none. */
  callbacks: Callbacks,
  /** Stop after this many steps in total (the state's step counter). */
  maxSteps: NonNegativeInt,
  /**
   * Builds the step to fold from the model, loss and optimizer, e.g.
   * `dataParallel({ workers: 2, spec })`. Default: `trainStep(model, loss, opt)`
   * on the calling thread. `fit` closes the step when it is done.
   */
  step: StepFactoryFn,
};

const fitRequired = {
  /** Passes over the training data. */
  epochs: PositiveInt,
  /** The optimizer. */
  opt: Transformation,
};
const FitOptions: OptionSetOf<typeof fitRequired, typeof fitFields> = optionSet('fit', fitRequired, fitFields);

/** Options of {@link fit}. */
export type FitOptions = OptionsOf<typeof FitOptions>;

/** A training step as `fit` folds it: synchronous or awaited, with resources `fit` releases when done. */
export type Step = ((ts: TrainState, batch: Batch) => StepResult | Promise<StepResult>) & { close?(): Promise<void> };

/** What a step is built from. */
export interface StepParts {
  readonly model: AnyLayer;
  readonly loss: Loss;
  readonly opt: AnyTransformation;
}

/** Builds a step; `fit` calls it once, before the first epoch. */
export type StepFactory = (parts: StepParts) => Step | Promise<Step>;

/** The final train state and one row per epoch. */
export interface FitResult {
  readonly trainState: TrainState;
  readonly history: readonly EpochRow[];
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
 * import { dataLoader } from '../data/loader.ts';
 * import { dense } from '../layers/dense.ts';
 * import { sgd } from '../optim/aliases.ts';
 * import { disposeTrainState } from './step.ts';
 * const ds = { x: Float32Array.from({ length: 16 }, (_, i) => i), y: new Int32Array(4), shape: [4] };
 * try {
 *   await fit(dense({ nf: 2 }), { train: dataLoader(ds, { batchSize: 4 }) }, { epochs: 3, opt: sgd(1e30), observers: [] });
 * } catch (e) {
 *   if (!(e instanceof DivergenceError)) throw e;
 *   console.log(e.message); // training diverged at step 1 (epoch 1): ...
 *   disposeTrainState(e.lastGood); // or saveCheckpoint('last-good.safetensors', e.lastGood)
 * }
 * ```
 */
export class DivergenceError extends Error {
  override name = 'DivergenceError';
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
 * Evaluate on a loader: mean loss and metrics, weighted by batch size.
 *
 * @example
 * const { loss, metrics } = evaluate(model, ts, valid); // metrics.accuracy
 */
export const evaluate = (
  model: AnyLayer,
  ts: Pick<TrainState, 'params' | 'state'>,
  loader: Loader,
  loss: Loss = crossEntropy,
  metrics: readonly Metric[] = [accuracy],
): { loss: number; metrics: Record<string, number> } => {
  decodeArg('evaluate.loss', LossFn, loss);
  decodeArg('evaluate.metrics', Metrics, metrics);
  const step = evalStep(model, loss, metrics);
  const l = runningMean(), ms = metrics.map(() => runningMean());
  for (const batch of loader.batches(0)) {
    const n = batch.x.shape[0];
    let r: { loss: number; metrics: number[] };
    try {
      r = step(ts, batch);
    } finally {
      disposeBatch(batch);
    }
    l.add(r.loss, n);
    r.metrics.forEach((v, i) => ms[i].add(v, n));
  }
  return { loss: l.value, metrics: Object.fromEntries(metrics.map((m, i) => [m.name, ms[i].value])) };
};

/**
 * Train: fold `trainStep` over `epochs` passes of `data.train`, evaluating on
 * `data.valid` after each. Leak-free: each replaced state is disposed.
 * Resuming from a state with `step > 0` continues mid-epoch exactly where it stopped.
 *
 * @example
 * const { trainState, history } = await fit(model, { train, valid }, { epochs: 5, opt: adamW(3e-3) });
 */
// deno-lint-ignore require-await -- async so that a bad argument rejects the promise rather than throwing synchronously
export const fit = async (model: AnyLayer, data: Data, options: FitOptions): Promise<FitResult> => {
  const opts = FitOptions.decode(options);
  if (data.train.length < 1) throw new ConfigError(['fit.data.train: the loader yields no batches']);
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
const start = (run: Run): { ts: TrainState; outShape: FlowShape } => {
  const { model, data, opts } = run;
  const given = opts.trainState;
  if (!given) {
    const r = initTrainStateAndShape(model, opts.opt, opts.key ?? prngKey(0), data.train.shape);
    return { ts: r.trainState, outShape: r.outShape };
  }
  const { problems, outShape } = compareTrainState(model, opts.opt, data.train.shape, given);
  if (problems.length) throw new ConfigError(problems.map((p) => `fit.trainState: ${p}`));
  const bad = nonFiniteTensors(given);
  if (bad.length) throw new ConfigError([`fit.trainState: ${bad.map(describeNonFinite).join('; ')}`]);
  return { ts: given, outShape };
};

const fold = async (run: Run, build: StepFactory): Promise<FitResult> => {
  const { model, data, opts } = run;
  const given = opts.trainState;
  const first = start(run);
  let ts = first.ts;
  try {
    const misfit = classCountProblems(first.outShape, { train: data.train.nClasses, valid: data.valid?.nClasses });
    if (misfit.length) throw new ConfigError(misfit.map((p) => `fit.data.${p}`));
    // The step is built after the checks: a data-parallel one starts worker threads.
    const step = await build({ model, loss: run.loss, opt: opts.opt });
    try {
      const history = await epochs(run, step, () => ts, (next) => (ts = next));
      return { trainState: ts, history };
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

const epochs = async (run: Run, step: Step, current: () => TrainState, replace: (next: TrainState) => void): Promise<EpochRow[]> => {
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
  const history: EpochRow[] = [];
  for (let epoch = startEpoch; epoch < opts.epochs; epoch++) {
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
        const bad = nonFiniteTensors(r.trainState);
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
    const v = data.valid ? evaluate(model, ts, data.valid, loss, metrics) : { loss: NaN, metrics: Object.fromEntries(metrics.map((m) => [m.name, NaN])) };
    const row: EpochRow = { epoch, trainLoss: trainLoss.value, validLoss: v.loss, metrics: v.metrics, seconds: (performance.now() - t0) / 1000 };
    history.push(row);
    observers.forEach((o) => o.onEpochEnd?.(row));
    for (const c of callbacks) await c.onEpochEnd?.(row, ts);
  }
  observers.forEach((o) => o.onTrainEnd?.(history));
  return history;
};

type OptFactory = (lr: (step: number) => number, mom: (step: number) => number) => AnyTransformation;
const OptFactoryFn: t.Type<OptFactory, OptFactory, unknown> = func<OptFactory>('an optimizer factory (lr, mom) => opt');

const fitOneCycleRequired = {
  /** Passes over the training data. */
  epochs: PositiveInt,
  /** The peak learning rate. */
  lrMax: Positive,
};
const fitOneCycleOptional = {
  ...fitFields,
  ...oneCycleFields,
  /** Decoupled weight decay. Default 0.01 (fastai). */
  weightDecay: NonNegative,
  /** Build the optimizer from the lr and momentum schedules. Default AdamW, fastai's defaults. */
  makeOpt: OptFactoryFn,
};
const FitOneCycleOptions: OptionSetOf<typeof fitOneCycleRequired, typeof fitOneCycleOptional> = optionSet(
  'fitOneCycle',
  fitOneCycleRequired,
  fitOneCycleOptional,
);

/** Options of {@link fitOneCycle}: fit's, less `opt`, plus the one-cycle ones. */
export type FitOneCycleOptions = OptionsOf<typeof FitOneCycleOptions>;

/**
 * fastai's `fit_one_cycle`: AdamW whose learning rate and beta1 follow the
 * one-cycle schedules over all the steps of training.
 *
 * @example
 * const { trainState } = await fitOneCycle(model, { train, valid }, { epochs: 5, lrMax: 3e-3 });
 */
export const fitOneCycle = (model: AnyLayer, data: Data, options: FitOneCycleOptions): Promise<FitResult> => {
  const opts = FitOneCycleOptions.decode(options);
  const total = opts.epochs * data.train.length;
  const { lr, mom } = oneCycle({ lrMax: opts.lrMax, div: opts.div, divFinal: opts.divFinal, pctStart: opts.pctStart, moms: opts.moms });
  const lrAt = perStep(lr, total), momAt = perStep(mom, total);
  const opt = opts.makeOpt ? opts.makeOpt(lrAt, momAt) : adamW(lrAt, { b1: momAt, weightDecay: opts.weightDecay ?? 0.01 });
  const { lrMax: _lr, div: _d, divFinal: _f, pctStart: _p, moms: _m, weightDecay: _w, makeOpt: _o, ...rest } = opts;
  return fit(model, data, { ...rest, opt });
};
