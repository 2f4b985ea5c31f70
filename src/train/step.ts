/**
 * The train state and a pure training step.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { valueAndGrad } from '../autodiff.ts';
import type { AnyLayer, Flow, FlowShape, Shape } from '../layer.ts';
import * as t from 'io-ts';
import { decodeArg, func, PrngKey } from '../config.ts';
import { type AnyTransformation, type OptState, Transformation } from '../optim/base.ts';
import { stepParams } from '../optim/chain.ts';
import { foldIn, type Key, split } from '../random.ts';
import { disposeReplaced, disposeTree, type Tree } from '../tree.ts';
import type { Batch } from '../data/loader.ts';
import type { Loss } from './losses.ts';
import type { Metric } from './metrics.ts';

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
 * const next = trainStep(model, crossEntropy, opt)(ts, { x, y }).trainState;
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
}

/**
 * A pure training step: forward in training mode, gradients of the loss with
 * respect to every param, one optimizer update. It neither mutates nor
 * disposes its arguments; the caller owns both the old and the new state.
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
 * const { trainState: next, loss } = step(ts, { x, y });
 * console.log(loss.toFixed(4), next.step); // 0.6959 1
 * disposeReplacedTrainState(ts, next);
 * disposeTrainState(next);
 * tf.dispose([x, y]);
 * ```
 */
export const trainStep = (model: AnyLayer, loss: Loss, opt: AnyTransformation): (ts: TrainState, batch: Batch) => StepResult => {
  decodeArg('trainStep.loss', LossFn, loss);
  decodeArg('trainStep.opt', Transformation, opt);
  return (ts: TrainState, batch: Batch): StepResult => {
    const key = foldIn(ts.key, ts.step);
    const out = tf.tidy(() => {
      const vg = valueAndGrad((p: Tree) => {
        const r = model.apply(p, ts.state, batch.x, { training: true, key });
        return { loss: loss(r.y, batch.y), aux: r.state as Tree };
      })(ts.params);
      const { params, state: optState } = stepParams(opt, vg.grads, ts.optState, ts.params);
      return { params, state: vg.aux ?? {}, optState, loss: vg.value };
    }) as unknown as { params: Tree; state: Tree; optState: OptState; loss: tf.Scalar };
    const value = out.loss.dataSync()[0];
    out.loss.dispose();
    return { trainState: { params: out.params, state: out.state, optState: out.optState, step: ts.step + 1, key: ts.key }, loss: value };
  };
};

/**
 * The model's output in evaluation mode, inside `tf.tidy`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adamW, dense, disposeTrainState, initTrainState, predict, prngKey } from 'tsnn';
 *
 * const model = dense({ nf: 2 });
 * const ts = initTrainState(model, adamW(1e-3), prngKey(0), [3]);
 * const x = tf.ones([4, 3]);
 * const logits = predict(model, ts, x) as tf.Tensor;
 * console.log(logits.shape); // [ 4, 2 ]
 * tf.dispose([x, logits]);
 * disposeTrainState(ts);
 * ```
 */
export const predict = (model: AnyLayer, ts: Pick<TrainState, 'params' | 'state'>, x: tf.Tensor): Flow =>
  tf.tidy(() => model.apply(ts.params, ts.state, x, { training: false }).y as tf.Tensor);

/**
 * Loss and metrics of one batch in evaluation mode, as numbers.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { accuracy, adamW, crossEntropy, dense, disposeTrainState, evalStep, initTrainState, prngKey } from 'tsnn';
 *
 * const model = dense({ nf: 2 });
 * const ts = initTrainState(model, adamW(1e-3), prngKey(0), [3]);
 * const x = tf.zeros([4, 3]), y = tf.tensor1d([0, 1, 0, 1], 'int32');
 * const { loss, metrics } = evalStep(model, crossEntropy, [accuracy])(ts, { x, y });
 * console.log(loss.toFixed(4), metrics); // 0.6959 [ 0.5 ]
 * tf.dispose([x, y]);
 * disposeTrainState(ts);
 * ```
 */
export const evalStep = (
  model: AnyLayer,
  loss: Loss,
  metrics: readonly Metric[],
): (ts: Pick<TrainState, 'params' | 'state'>, batch: Batch) => { loss: number; metrics: number[] } => {
  decodeArg('evalStep.loss', LossFn, loss);
  decodeArg('evalStep.metrics', Metrics, metrics);
  return (ts: Pick<TrainState, 'params' | 'state'>, batch: Batch): { loss: number; metrics: number[] } => {
    const values = tf.tidy(() => {
      const y = model.apply(ts.params, ts.state, batch.x, { training: false }).y;
      return tf.stack([loss(y, batch.y), ...metrics.map((m) => m(y, batch.y))]);
    });
    const v = Array.from(values.dataSync());
    values.dispose();
    return { loss: v[0], metrics: v.slice(1) };
  };
};
