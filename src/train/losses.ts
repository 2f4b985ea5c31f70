/**
 * Loss functions: scalars from model outputs and targets.
 *
 * Every loss checks what it is given before computing anything, because the
 * mistakes here do not fail on their own: tfjs one-hot encodes an
 * out-of-range label as all zeros (a free zero loss), and a `[b, 1]` output
 * broadcasts against a `[b]` target into a `[b, b]` error. The checks throw
 * a ConfigError naming the loss, what it expected and what it got; they
 * allocate no tensors, so nothing leaks when they throw, inside a gradient
 * tape or not. The label range check reads the labels on the host: 1.8 µs
 * (cpu backend) and 3.4 µs (wasm) for a batch of 64, against 100 ms or more
 * for a training step, so there is no option to skip it.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import * as t from 'io-ts';
import { type NoFields, optionSet, type OptionSetOf, type OptionsOf, type SameType, showValue, typesAgree, UnitInterval } from '../config.ts';
import { ConfigError, showFullShape } from '../errors.ts';
import type { Flow } from '../layer.ts';

/**
 * tfjs-core's tensor types under private aliases: `deno doc --lint` reports
 * npm types named directly in a public type as private-type-ref (see
 * `Tensor` in layer.ts); an `@ignore`d alias silences just those.
 *
 * @ignore
 */
type Tensor = tf.Tensor;
/** @ignore */
type Scalar = tf.Scalar;

/** A loss: mean over the batch, as a scalar. */
export type Loss = (output: Flow, target: Tensor) => Scalar;

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

const refuse = (problem: string): never => {
  throw new ConfigError([problem]);
};

const shown = (x: unknown): string =>
  x instanceof tf.Tensor
    ? `a ${x.dtype} tensor ${showFullShape(x.shape)}`
    : Array.isArray(x) && x.length > 0 && x.every((e) => e instanceof tf.Tensor)
    ? `a list of ${x.length} tensors`
    : showValue(x);

// A label tensor's values, read once: tensors are immutable, and on WebGPU the values leave the CPU once a
// kernel has used them, so a second check (a metric after the loss) would otherwise wait on the GPU.
const labelsRead = new WeakMap<tf.Tensor, ArrayLike<number>>();
const labelValues = (target: tf.Tensor): ArrayLike<number> => {
  let v = labelsRead.get(target);
  if (v === undefined) labelsRead.set(target, v = target.dataSync());
  return v;
};

/**
 * Check logits `[b, c]` and class labels `[b]` on behalf of `owner` (a loss
 * or a metric), and return the logits. Labels must be an int32 tensor, one
 * per row, each in `0..c-1`; the batch must not be empty. The range check
 * reads the `b` labels on the host, with no kernel: labels come from the
 * loader, so they are still host-side when the loss runs.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * const logits = tf.zeros([2, 3]), labels = tf.tensor1d([0, 2], 'int32');
 * console.log(checkClassLabels('crossEntropy', logits, labels) === logits); // true
 * // with labels [0, 3]: ConfigError: crossEntropy: expected labels in 0..2 (logits [2, 3] have 3 classes), got 3 at index 1
 * ```
 */
export const checkClassLabels = (owner: string, output: Flow, target: tf.Tensor): tf.Tensor2D => {
  if (!(output instanceof tf.Tensor) || output.rank !== 2) refuse(`${owner}: expected logits [batch, classes], got ${shown(output)}`);
  const [b, c] = (output as tf.Tensor2D).shape;
  if (b === 0) refuse(`${owner}: expected a non-empty batch, got logits ${showFullShape([b, c])}`);
  if (!(target instanceof tf.Tensor)) refuse(`${owner}: expected integer labels [${b}] (an int32 tensor), got ${shown(target)}`);
  if (target.rank !== 1 || target.shape[0] !== b) refuse(`${owner}: expected integer labels [${b}], got ${showFullShape(target.shape)}`);
  // Only int32 holds class indices exactly: a float label may be 1.5 or NaN, which a cast would quietly turn into 1 or 0.
  if (target.dtype !== 'int32') {
    refuse(`${owner}: expected int32 labels, got a ${target.dtype} tensor ${showFullShape(target.shape)} (cast integer labels with tf.cast(labels, 'int32'))`);
  }
  const labels = labelValues(target);
  for (let i = 0; i < labels.length; i++) {
    if (!(labels[i] >= 0 && labels[i] < c)) {
      refuse(`${owner}: expected labels in 0..${c - 1} (logits ${showFullShape([b, c])} have ${c} classes), got ${labels[i]} at index ${i}`);
    }
  }
  return output as tf.Tensor2D;
};

/**
 * Check an output and a target of the same shape, not empty, on behalf of
 * `owner` (a regression loss), and return the output.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * const output = tf.zeros([4, 1]);
 * console.log(checkSameShape('mse', output, tf.zeros([4, 1])) === output); // true
 * // with a target [4]: ConfigError: mse: expected a target of the output's shape [4, 1], got [4]
 * ```
 */
export const checkSameShape = (owner: string, output: Flow, target: tf.Tensor): tf.Tensor => {
  if (!(output instanceof tf.Tensor)) refuse(`${owner}: expected one output tensor, got ${shown(output)}`);
  const y = output as tf.Tensor;
  if (!(target instanceof tf.Tensor)) refuse(`${owner}: expected a target tensor ${showFullShape(y.shape)}, got ${shown(target)}`);
  // No broadcasting: a [b, 1] output against a [b] target would silently average a [b, b] error.
  if (!tf.util.arraysEqual(y.shape, target.shape)) {
    refuse(`${owner}: expected a target of the output's shape ${showFullShape(y.shape)}, got ${showFullShape(target.shape)}`);
  }
  if (y.size === 0) refuse(`${owner}: expected a non-empty batch, got an output ${showFullShape(y.shape)}`);
  return y;
};

// ---------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------

/** {@link UnitInterval}, described in its messages as the interval it is. */
const Smoothing: t.Type<number, number, unknown> = new t.Type<number, number, unknown>(
  'a number in [0, 1)',
  UnitInterval.is,
  UnitInterval.validate,
  t.identity,
);

/** Options of {@link crossEntropyWith}. */
export interface CrossEntropyOptions {
  /** fastai's label smoothing ε, in [0, 1). Default 0 (none). */
  readonly labelSmoothing?: number;
}

const crossEntropyOptional = { labelSmoothing: Smoothing };
const CrossEntropyOptionSet: OptionSetOf<NoFields, typeof crossEntropyOptional> = optionSet('crossEntropy', {}, crossEntropyOptional);
typesAgree<SameType<CrossEntropyOptions, OptionsOf<typeof CrossEntropyOptionSet>>>();

/**
 * Softmax cross-entropy from logits `[b, c]` and int32 labels `[b]` in
 * `0..c-1`: the mean over the batch of `−log softmax(logits)[label]`.
 * Labels of another dtype, count or range, and an empty batch, are a
 * ConfigError naming `crossEntropy`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * const logits = tf.tensor2d([[2, 0], [0, 2]]);
 * console.log(crossEntropy(logits, tf.tensor1d([0, 1], 'int32')).dataSync()[0].toFixed(3)); // 0.127
 * // crossEntropy(logits, tf.tensor1d([0, 2], 'int32')) throws ConfigError:
 * // crossEntropy: expected labels in 0..1 (logits [2, 2] have 2 classes), got 2 at index 1
 * ```
 */
export const crossEntropy: Loss = (output: Flow, target: tf.Tensor): tf.Scalar => crossEntropyWith()(output, target);

/**
 * Cross-entropy with options: label smoothing as fastai's
 * `LabelSmoothingCrossEntropy`, `(1 − ε) · nll + ε · mean over classes of −log p`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * const smooth = crossEntropyWith({ labelSmoothing: 0.1 });
 * console.log(smooth(tf.tensor2d([[2, 0], [0, 2]]), tf.tensor1d([0, 1], 'int32')).dataSync()[0].toFixed(3)); // 0.227
 * // crossEntropyWith({ labelSmoothing: 1 }) throws ConfigError: crossEntropy.labelSmoothing: expected a number in [0, 1), got 1
 * ```
 */
export const crossEntropyWith = (opts: CrossEntropyOptions = {}): Loss => {
  const eps = CrossEntropyOptionSet.decode(opts).labelSmoothing ?? 0;
  return (output, target) => {
    // Checked before tidy and before any kernel: a refusal leaves nothing behind.
    const logits = checkClassLabels('crossEntropy', output, target);
    return tf.tidy(() => {
      const logp = tf.logSoftmax(logits);
      const nll = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(target, logits.shape[1])), 1));
      const loss = eps === 0 ? nll : tf.add(tf.mul(nll, 1 - eps), tf.mul(tf.neg(tf.mean(logp, 1)), eps));
      return tf.mean(loss) as tf.Scalar;
    });
  };
};

/**
 * Mean squared error between an output and a target of the same shape (no
 * broadcasting); another shape, or an empty batch, is a ConfigError naming `mse`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * console.log(mse(tf.tensor([1, 2]), tf.tensor([0, 0])).dataSync()[0]); // 2.5
 * // mse(tf.zeros([4, 1]), tf.zeros([4])) throws ConfigError: mse: expected a target of the output's shape [4, 1], got [4]
 * ```
 */
export const mse: Loss = (output: Flow, target: tf.Tensor): tf.Scalar => {
  const y = checkSameShape('mse', output, target);
  return tf.tidy(() => tf.mean(tf.square(tf.sub(y, target))) as tf.Scalar);
};
