/**
 * Parameter-free layers that move data around: identity, flatten, dropout.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { type NoFields, optionSet, type OptionSetOf, type OptionsOf, type SameType, typesAgree, UnitInterval } from '../config.ts';
import { type Layer, singleInput, singleShape, tidyApply } from '../layer.ts';
import { uniform } from '../random.ts';
import type { Empty } from '../tree.ts';
import { LayerError } from '../errors.ts';

/**
 * The identity layer: returns its input unchanged (the same tensor).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { evalCtx } from 'tsnn';
 * const x = tf.ones([2, 3]);
 * console.log(identity.apply({}, {}, x, evalCtx).y === x); // true
 * ```
 */
export const identity: Layer<Empty, Empty> = {
  name: 'identity',
  init: (_key, inShape) => ({ params: {}, state: {}, outShape: inShape }),
  apply: (_params, state, x) => ({ y: x, state }),
};

/**
 * Flatten every axis but the batch: `[b, h, w, c]` to `[b, h·w·c]`.
 *
 * @example
 * ```ts
 * import { prngKey } from 'tsnn';
 * console.log(flatten.init(prngKey(0), [1, 1, 256]).outShape); // [256]
 * ```
 */
export const flatten: Layer<Empty, Empty> = {
  name: 'flatten',
  init(_key, inShape) {
    const s = singleShape('flatten', inShape);
    return { params: {}, state: {}, outShape: [s.reduce((a, b) => a * b, 1)] };
  },
  apply: tidyApply((_params, state, x) => {
    const xt = singleInput('flatten', x);
    return { y: tf.reshape(xt, [xt.shape[0], -1]), state };
  }),
};

const dropoutRequired = {
  rate: UnitInterval,
};
const DropoutOptionSet: OptionSetOf<typeof dropoutRequired, NoFields> = optionSet('dropout', dropoutRequired, {});

/** Options of {@link dropout}. */
export interface DropoutOptions {
  /** The probability of zeroing each value, in [0, 1). */
  readonly rate: number;
}
typesAgree<SameType<DropoutOptions, OptionsOf<typeof DropoutOptionSet>>>();

/**
 * Inverted dropout: in training, zero each value with probability `rate` and
 * scale the rest by 1/(1-rate). The mask comes from `ctx.key`, so it is
 * deterministic. Evaluation is the identity.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { dropout, evalCtx, prngKey } from 'tsnn';
 *
 * const drop = dropout({ rate: 0.5 });
 * const { params, state } = drop.init(prngKey(0), [4]);
 * const x = tf.ones([1, 4]);
 * console.log(drop.apply(params, state, x, evalCtx).y === x); // true: the identity in evaluation
 * // dropout({ rate: 1 }) throws ConfigError: dropout.rate: expected number in [0, 1), got 1
 * ```
 */
export const dropout = (opts: DropoutOptions): Layer<Empty, Empty> => {
  const { rate } = DropoutOptionSet.decode(opts);
  return {
    name: 'dropout',
    init: (_key, inShape) => ({ params: {}, state: {}, outShape: inShape }),
    apply: tidyApply((_params, state, x, ctx) => {
      const xt = singleInput('dropout', x);
      if (!ctx.training || rate === 0) return { y: xt, state };
      if (!ctx.key) throw new LayerError('dropout', [], 'training mode needs a key in ctx (ctx.key)');
      const keep = uniform(ctx.key, xt.size).map((u) => (u >= rate ? 1 / (1 - rate) : 0));
      return { y: tf.mul(xt, tf.tensor(keep, xt.shape, 'float32')), state };
    }),
  };
};
