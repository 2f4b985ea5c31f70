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
 * import { decodeArg } from '../config.ts';
 * // decodeArg('trainStep.loss', LossFn, 3) throws ConfigError: trainStep.loss: expected a loss function (output, target) => scalar, got 3
 * ```
 */
export const LossFn: t.Type<Loss, Loss, unknown> = func<Loss>('a loss function (output, target) => scalar');

/**
 * The codec of a list of metrics given as an argument.
 *
 * @example
 * ```ts
 * import { accuracy } from './metrics.ts';
 * Metrics.is([accuracy]); // true
 * ```
 */
export const Metrics: t.ReadonlyArrayC<t.Type<Metric, Metric, unknown>> = t.readonlyArray(func<Metric>('a metric function'), 'a list of metric functions');

/** Everything training threads from step to step: a plain record. */
export interface TrainState {
  readonly params: Tree;
  readonly state: Tree;
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
 * const ts = initTrainState(model, adamW(1e-3), prngKey(0), [28, 28, 1]);
 */
export const initTrainState = (model: AnyLayer, opt: AnyTransformation, key: Key, inShape: Shape): TrainState =>
  initTrainStateAndShape(model, opt, key, inShape).trainState;

/**
 * {@link initTrainState}, and the model's output shape that its `init` computes on the way
 * (for checks against it without a second `init`).
 *
 * @example
 * ```ts
 * import { adamW } from '../optim/aliases.ts';
 * import { dense } from '../layers/dense.ts';
 * import { prngKey } from '../random.ts';
 * const { trainState, outShape } = initTrainStateAndShape(dense({ nf: 2 }), adamW(1e-3), prngKey(0), [3]); // outShape [2]
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
 * disposeTrainState(ts);
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
 * disposeReplacedTrainState(ts, next); ts = next;
 */
export const disposeReplacedTrainState = (old: TrainState, next: TrainState): void => {
  disposeReplaced(old.params, next.params);
  disposeReplaced(old.state, next.state);
  disposeReplaced(old.optState, next.optState);
};

/** What one step returns: the new state (all new tensors) and the batch loss. */
export interface StepResult {
  readonly trainState: TrainState;
  readonly loss: number;
}

/**
 * A pure training step: forward in training mode, gradients of the loss with
 * respect to every param, one optimizer update. It neither mutates nor
 * disposes its arguments; the caller owns both the old and the new state.
 *
 * @example
 * const step = trainStep(model, crossEntropy, adamW(1e-3));
 * const { trainState: next, loss } = step(ts, { x, y });
 * disposeReplacedTrainState(ts, next);
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
 * const logits = predict(model, ts, x);
 */
export const predict = (model: AnyLayer, ts: Pick<TrainState, 'params' | 'state'>, x: tf.Tensor): Flow =>
  tf.tidy(() => model.apply(ts.params, ts.state, x, { training: false }).y as tf.Tensor);

/**
 * Loss and metrics of one batch in evaluation mode, as numbers.
 *
 * @example
 * const { loss, metrics } = evalStep(model, crossEntropy, [accuracy])(ts, batch);
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
