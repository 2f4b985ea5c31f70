/**
 * Loss functions: scalars from model outputs and targets.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, showFullShape } from '../errors.ts';
import type { Flow } from '../layer.ts';

/** A loss: mean over the batch, as a scalar. */
export type Loss = (output: Flow, target: tf.Tensor) => tf.Scalar;

const logits2d = (owner: string, output: Flow): tf.Tensor2D => {
  if (Array.isArray(output) || (output as tf.Tensor).rank !== 2) {
    throw new ConfigError([`${owner}: expected logits [batch, classes], got ${Array.isArray(output) ? 'a list' : showFullShape((output as tf.Tensor).shape)}`]);
  }
  return output as tf.Tensor2D;
};

/**
 * Softmax cross-entropy from logits `[b, c]` and integer labels `[b]`, with
 * optional label smoothing as fastai's `LabelSmoothingCrossEntropy`:
 * `(1 - ε) · nll + ε · mean over classes of −log p`.
 *
 * @example
 * const loss = crossEntropy(logits, labels);
 * const smooth = crossEntropyWith({ labelSmoothing: 0.1 });
 */
export const crossEntropy: Loss = (output, target) => crossEntropyWith()(output, target);

/**
 * Cross-entropy with options.
 *
 * @example
 * fit(model, data, { loss: crossEntropyWith({ labelSmoothing: 0.1 }), ... })
 */
export const crossEntropyWith = (opts: { readonly labelSmoothing?: number } = {}): Loss => {
  const eps = opts.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps < 1)) throw new ConfigError([`crossEntropy.labelSmoothing: expected a number in [0, 1), got ${eps}`]);
  return (output, target) => tf.tidy(() => {
    const logits = logits2d('crossEntropy', output);
    const [b, c] = logits.shape;
    if (target.rank !== 1 || target.shape[0] !== b) {
      throw new ConfigError([`crossEntropy: expected integer labels [${b}], got ${showFullShape(target.shape)}`]);
    }
    const logp = tf.logSoftmax(logits);
    const nll = tf.neg(tf.sum(tf.mul(logp, tf.oneHot(tf.cast(target, 'int32'), c)), 1));
    const loss = eps === 0 ? nll : tf.add(tf.mul(nll, 1 - eps), tf.mul(tf.neg(tf.mean(logp, 1)), eps));
    return tf.mean(loss) as tf.Scalar;
  });
};

/**
 * Mean squared error.
 *
 * @example
 * const loss = mse(predictions, targets);
 */
export const mse: Loss = (output, target) =>
  tf.tidy(() => tf.mean(tf.square(tf.sub(output as tf.Tensor, target))) as tf.Scalar);
