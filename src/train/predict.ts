/**
 * Inference: a model's class probabilities and predicted classes for a set
 * of inputs, batch by batch, with the preprocessing it was trained with.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { ConfigError } from '../errors.ts';
import type { AnyLayer, Shape } from '../layer.ts';
import type { Tree } from '../tree.ts';
import { preprocessing } from '../data/loader.ts';

/** What the model sees: `x` in `[0, 1]` (times `scale`), then `(x - mean) / std` per channel (an image's last axis; one channel otherwise), as `dataLoader` does. */
export interface Preprocess {
  /** Multiplies the raw values first. Default 1/255 for `Uint8Array` inputs, else 1. */
  readonly scale?: number;
  /** Per-channel statistics, e.g. `channelStats(train)`. Default none. */
  readonly normalize?: { readonly mean: readonly number[]; readonly std: readonly number[] };
}

/** Options of {@link predict}. */
export interface PredictOptions extends Preprocess {
  /** Inputs per forward pass. Default 256. */
  readonly batchSize?: number;
}

/** Probabilities `[n, k]` (row-major) and the most probable class of each input. */
export interface Predictions {
  /** Softmax of the model's outputs, `n × k` values. */
  readonly probs: Float32Array;
  /** The arg max of each row. */
  readonly classes: Int32Array;
  /** `k`, the number of classes. */
  readonly nClasses: number;
}

/**
 * Class probabilities (softmax of the outputs, in evaluation mode) and
 * predicted classes of `inputs`: `n` examples of `shape`, as a typed array
 * (raw pixels, say) preprocessed as `dataLoader` does. Runs `batchSize` at a
 * time, reads each batch with `data()` (so it works on WebGPU), and leaves no tensor behind.
 *
 * @example
 * ```ts
 * import { adamW, dense, disposeTrainState, initTrainState, predict, prngKey } from 'tsnn';
 *
 * const model = dense({ nf: 3 });
 * const ts = initTrainState(model, adamW(1e-3), prngKey(0), [4]);
 * const { probs, classes, nClasses } = await predict(model, ts, { x: new Float32Array(5 * 4), shape: [4] }, { batchSize: 2 });
 * console.log(probs.length, classes.length, nClasses); // 15 5 3
 * disposeTrainState(ts);
 * ```
 */
export const predict = async (
  model: AnyLayer,
  vars: { readonly params: Tree; readonly state: Tree },
  inputs: { readonly x: Float32Array | Uint8Array; readonly shape: Shape },
  opts: PredictOptions = {},
): Promise<Predictions> => {
  const per = inputs.shape.reduce((a, b) => a * b, 1);
  if (!(per > 0) || inputs.x.length % per !== 0) {
    throw new ConfigError([`predict.inputs: expected a multiple of ${per} values (shape [${inputs.shape.join(', ')}]), got ${inputs.x.length}`]);
  }
  const batchSize = opts.batchSize ?? 256;
  if (!(Number.isInteger(batchSize) && batchSize > 0)) throw new ConfigError([`predict.batchSize: expected positive integer, got ${batchSize}`]);
  const { scale, mean, std, channels: c } = preprocessing('predict', inputs, opts);
  const n = inputs.x.length / per;
  const chunks: Float32Array[] = [];
  let k = 0;
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const xs = new Float32Array(m * per);
    for (let i = 0; i < xs.length; i++) xs[i] = (inputs.x[start * per + i] * scale - mean[i % c]) / std[i % c];
    const probs = tf.tidy(() => {
      const y = model.apply(vars.params, vars.state, tf.tensor(xs, [m, ...inputs.shape]), { training: false }).y;
      if (Array.isArray(y) || (y as tf.Tensor).rank !== 2) {
        throw new ConfigError([
          `predict: expected the model to give [batch, classes], got ${Array.isArray(y) ? 'several outputs' : `[${(y as tf.Tensor).shape.join(', ')}]`}`,
        ]);
      }
      return tf.softmax(y as tf.Tensor2D);
    });
    try {
      k = probs.shape[1]!;
      chunks.push((await probs.data()) as Float32Array);
    } finally {
      probs.dispose();
    }
  }
  const probs = new Float32Array(n * k);
  let at = 0;
  for (const ch of chunks) probs.set(ch, at), (at += ch.length);
  return { probs, classes: rowArgMax(probs, k), nClasses: k };
};

/** The arg max of each row of `probs`, `k` values a row (the first on ties). */
export const rowArgMax = (probs: Float32Array, k: number): Int32Array => {
  const classes = new Int32Array(probs.length / k);
  for (let i = 0; i < classes.length; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (probs[i * k + j] > probs[i * k + best]) best = j;
    classes[i] = best;
  }
  return classes;
};
