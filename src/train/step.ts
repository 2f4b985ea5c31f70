/**
 * The train state and a pure training step.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { valueAndGrad } from '../autodiff.ts';
import type { AnyLayer, FlowShape, Shape } from '../layer.ts';
import * as t from 'io-ts';
import { decodeArg, func, PrngKey } from '../config.ts';
import { type AnyTransformation, type OptState, Transformation } from '../optim/base.ts';
import { stepParams } from '../optim/chain.ts';
import { foldIn, type Key, split } from '../random.ts';
import { disposeReplaced, disposeTree, type Tree } from '../tree.ts';
import type { Batch } from '../data/loader.ts';
import type { Loss } from './losses.ts';
import type { Metric } from './metrics.ts';
import { finiteCheck } from '../ops/finite.ts';
import { floatLeaves } from './finite.ts';
import { ensureEngine } from '../engine_choice.ts';

/**
 * The codec of a loss given as an argument.
 *
 * @example
 * ```ts
 * import { crossEntropy, dense, sgd, trainStep } from 'tsnn';
 * import { LossFn } from './step.ts';
 *
 * console.log(LossFn.is(crossEntropy), LossFn.is(3)); // true false
 * try {
 *   trainStep(dense({ nf: 2 }), 3 as never, sgd(0.1));
 * } catch (e) {
 *   console.log((e as Error).message); // trainStep.loss: expected a loss function (output, target) => scalar, got 3
 * }
 * ```
 */
export const LossFn: t.Type<Loss, Loss, unknown> = func<Loss>('a loss function (output, target) => scalar');

/**
 * The codec of a list of metrics given as an argument.
 *
 * @example
 * ```ts
 * import { accuracy } from 'tsnn';
 * import { Metrics } from './step.ts';
 *
 * console.log(Metrics.is([accuracy]), Metrics.is([0.5])); // true false
 * ```
 */
export const Metrics: t.ReadonlyArrayC<t.Type<Metric, Metric, unknown>> = t.readonlyArray(func<Metric>('a metric function'), 'a list of metric functions');

/** Everything training threads from step to step: a plain record. */
export interface TrainState {
  /** The model's parameters, what the optimizer updates. */
  readonly params: Tree;
  /** The model's non-trained state, e.g. BatchNorm's running statistics. */
  readonly state: Tree;
  /** The optimizer's state, e.g. Adam's moments. */
  readonly optState: OptState;
  /** Steps taken so far. */
  readonly step: number;
  /** The run's key; step `s` draws from `foldIn(key, s)`. */
  readonly key: Key;
}

/**
 * A fresh train state: params and state from `model.init`, optimizer state from `opt.init`.
 *
 * @example
 * ```ts
 * import { adamW, dense, disposeTrainState, initTrainState, prngKey } from 'tsnn';
 *
 * const ts = initTrainState(dense({ nf: 2 }), adamW(1e-3), prngKey(0), [3]);
 * console.log(ts.step, Object.keys(ts.params)); // 0 [ "weight", "bias" ]
 * disposeTrainState(ts);
 * ```
 */
export const initTrainState = (model: AnyLayer, opt: AnyTransformation, key: Key, inShape: Shape): TrainState =>
  initTrainStateAndShape(model, opt, key, inShape).trainState;

/**
 * {@link initTrainState}, and the model's output shape that its `init` computes on the way
 * (for checks against it without a second `init`).
 *
 * @example
 * ```ts
 * import { adamW, dense, disposeTrainState, prngKey } from 'tsnn';
 * import { initTrainStateAndShape } from './step.ts';
 *
 * const { trainState, outShape } = initTrainStateAndShape(dense({ nf: 2 }), adamW(1e-3), prngKey(0), [3]);
 * console.log(outShape); // [ 2 ]
 * disposeTrainState(trainState);
 * ```
 */
export const initTrainStateAndShape = (
  model: AnyLayer,
  opt: AnyTransformation,
  key: Key,
  inShape: Shape,
): { trainState: TrainState; outShape: FlowShape } => {
  decodeArg('initTrainState.opt', Transformation, opt);
  decodeArg('initTrainState.key', PrngKey, key);
  const [kInit, kRun] = split(key, 2);
  const { params, state, outShape } = model.init(kInit, inShape);
  return { trainState: { params, state, optState: opt.init(params), step: 0, key: kRun }, outShape };
};

/**
 * Dispose every tensor of a train state.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adamW, dense, disposeTrainState, initTrainState, prngKey } from 'tsnn';
 *
 * const before = tf.memory().numTensors;
 * const ts = initTrainState(dense({ nf: 2 }), adamW(1e-3), prngKey(0), [3]);
 * disposeTrainState(ts);
 * console.log(tf.memory().numTensors === before); // true
 * ```
 */
export const disposeTrainState = (ts: TrainState): void => {
  disposeTree(ts.params);
  disposeTree(ts.state);
  disposeTree(ts.optState);
};

/**
 * Dispose the tensors of `old` that `next` does not share.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { crossEntropy, dense, disposeReplacedTrainState, disposeTrainState, initTrainState, prngKey, sgd, trainStep } from 'tsnn';
 *
 * const model = dense({ nf: 2 }), opt = sgd(0.1);
 * let ts = initTrainState(model, opt, prngKey(0), [3]);
 * const x = tf.ones([4, 3]), y = tf.tensor1d([0, 1, 0, 1], 'int32');
 * const next = (await trainStep(model, crossEntropy, opt)(ts, { x, y })).trainState;
 * // The step shares what it did not change (the empty state); only the replaced tensors go.
 * disposeReplacedTrainState(ts, next);
 * ts = next;
 * console.log(ts.step); // 1
 * disposeTrainState(ts);
 * tf.dispose([x, y]);
 * ```
 */
export const disposeReplacedTrainState = (old: TrainState, next: TrainState): void => {
  disposeReplaced(old.params, next.params);
  disposeReplaced(old.state, next.state);
  disposeReplaced(old.optState, next.optState);
};

/** What one step returns: the new state (all new tensors) and the batch loss. */
export interface StepResult {
  /** The state after the step. */
  readonly trainState: TrainState;
  /** The batch's loss, before the update. */
  readonly loss: number;
  /**
   * Whether every float of the new state is finite, when the step found out
   * in the same read as its loss (`trainStep` does). Without it, `fit` checks
   * the state itself, at the cost of one more wait on the device.
   */
  readonly finite?: boolean;
}

/**
 * A pure training step: forward in training mode, gradients of the loss with
 * respect to every param, one optimizer update. It neither mutates nor
 * disposes its arguments; the caller owns both the old and the new state.
 *
 * The step waits on the device once: it reads the loss, and whether the new
 * state is all finite, together with `data()` (never `dataSync()`, which
 * WebGPU cannot do), so the same step runs on every backend.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { crossEntropy, dense, disposeReplacedTrainState, disposeTrainState, initTrainState, prngKey, sgd, trainStep } from 'tsnn';
 *
 * const model = dense({ nf: 2 }), opt = sgd(0.1);
 * const ts = initTrainState(model, opt, prngKey(0), [3]);
 * const step = trainStep(model, crossEntropy, opt);
 * const x = tf.zeros([4, 3]), y = tf.tensor1d([0, 1, 0, 1], 'int32');
 * const { trainState: next, loss, finite } = await step(ts, { x, y });
 * console.log(loss.toFixed(4), next.step, finite); // 0.6959 1 true
 * disposeReplacedTrainState(ts, next);
 * disposeTrainState(next);
 * tf.dispose([x, y]);
 * ```
 */
export const trainStep = (model: AnyLayer, loss: Loss, opt: AnyTransformation): (ts: TrainState, batch: Batch) => Promise<StepResult> => {
  decodeArg('trainStep.loss', LossFn, loss);
  decodeArg('trainStep.opt', Transformation, opt);
  let first = true;
  return async (ts: TrainState, batch: Batch): Promise<StepResult> => {
    if (first) {
      // With no engine chosen, the fastest one here; tensors made before move to it on first use.
      await ensureEngine('trainStep');
      first = false;
    }
    const key = foldIn(ts.key, ts.step);
    const out = tf.tidy(() => {
      const vg = valueAndGrad((p: Tree) => {
        const r = model.apply(p, ts.state, batch.x, { training: true, key });
        return { loss: loss(r.y, batch.y), aux: r.state as Tree };
      })(ts.params);
      const { params, state: optState } = stepParams(opt, vg.grads, ts.optState, ts.params);
      return { params, state: vg.aux ?? {}, optState, loss: vg.value };
    }) as unknown as { params: Tree; state: Tree; optState: OptState; loss: tf.Scalar };
    const next: TrainState = { params: out.params, state: out.state, optState: out.optState, step: ts.step + 1, key: ts.key };
    return readStep(ts, next, out.loss);
  };
};

/** The step's one read: its loss and, unless the engine answered at once, the finite check of the new state. */
const readStep = async (old: TrainState, next: TrainState, loss: tf.Scalar): Promise<StepResult> => {
  let read: tf.Tensor = loss, check: boolean | tf.Scalar = true;
  try {
    check = finiteCheck(floatLeaves(next).map(([, t]) => t));
    if (typeof check !== 'boolean') read = tf.tidy(() => tf.stack([loss, check as tf.Scalar]));
    const values = await read.data();
    const finite = typeof check === 'boolean' ? check : undefined;
    return { trainState: next, loss: values[0], finite: finite ?? values[1] === 0 };
  } catch (e) {
    disposeReplacedTrainState(next, old);
    throw e;
  } finally {
    // Also when the stack or the read fails.
    if (typeof check !== 'boolean') check.dispose();
    loss.dispose();
    read.dispose();
  }
};

/**
 * Loss and metrics of one batch in evaluation mode, stacked in one tensor
 * `[loss, ...metrics]` that the caller reads (and disposes) when it likes:
 * `evaluate` reads many batches at once.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { accuracy, adamW, crossEntropy, dense, disposeTrainState, initTrainState, prngKey } from 'tsnn';
 * import { evalValues } from './step.ts';
 *
 * const model = dense({ nf: 2 });
 * const ts = initTrainState(model, adamW(1e-3), prngKey(0), [3]);
 * const x = tf.zeros([4, 3]), y = tf.tensor1d([0, 1, 0, 1], 'int32');
 * const values = evalValues(model, crossEntropy, [accuracy])(ts, { x, y });
 * console.log(values.shape); // [ 2 ]
 * tf.dispose([x, y, values]);
 * disposeTrainState(ts);
 * ```
 */
export const evalValues = (
  model: AnyLayer,
  loss: Loss,
  metrics: readonly Metric[],
): (ts: Pick<TrainState, 'params' | 'state'>, batch: Batch) => tf.Tensor1D => {
  decodeArg('evalStep.loss', LossFn, loss);
  decodeArg('evalStep.metrics', Metrics, metrics);
  return (ts, batch) =>
    tf.tidy(() => {
      const y = model.apply(ts.params, ts.state, batch.x, { training: false }).y;
      return tf.stack([loss(y, batch.y), ...metrics.map((m) => m(y, batch.y))]) as tf.Tensor1D;
    });
};

/**
 * Loss and metrics of one batch in evaluation mode, as numbers (one read, with `data()`).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { accuracy, adamW, crossEntropy, dense, disposeTrainState, evalStep, initTrainState, prngKey } from 'tsnn';
 *
 * const model = dense({ nf: 2 });
 * const ts = initTrainState(model, adamW(1e-3), prngKey(0), [3]);
 * const x = tf.zeros([4, 3]), y = tf.tensor1d([0, 1, 0, 1], 'int32');
 * const { loss, metrics } = await evalStep(model, crossEntropy, [accuracy])(ts, { x, y });
 * console.log(loss.toFixed(4), metrics); // 0.6959 [ 0.5 ]
 * tf.dispose([x, y]);
 * disposeTrainState(ts);
 * ```
 */
export const evalStep = (
  model: AnyLayer,
  loss: Loss,
  metrics: readonly Metric[],
): (ts: Pick<TrainState, 'params' | 'state'>, batch: Batch) => Promise<{ loss: number; metrics: number[] }> => {
  const values = evalValues(model, loss, metrics);
  return async (ts, batch) => {
    const t = values(ts, batch);
    try {
      const v = Array.from(await t.data());
      return { loss: v[0], metrics: v.slice(1) };
    } finally {
      t.dispose();
    }
  };
};
