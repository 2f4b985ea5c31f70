/**
 * Pointwise activations. Each is both a layer (`serial(conv, relu)`) and a
 * lifter that applies itself after another layer (`relu(add(a, b))`).
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { decodeArg, Finite, func, nonEmptyString } from '../config.ts';
import { type Flow, type FlowShape, type Layer, singleInput, tidyApply } from '../layer.ts';
import type { Key } from '../random.ts';
import type { Empty, Tree } from '../tree.ts';

/**
 * tfjs-core's tensor types under private aliases: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); `@ignore`d aliases silence just that.
 *
 * @ignore
 */
type Tensor = tf.Tensor;

/** A pointwise activation: a parameter-free layer that can also wrap a layer. */
export interface Pointwise extends Layer<Empty, Empty> {
  /** `act(layer)` is `layer` followed by `act`, with `layer`'s params unchanged. */
  <P extends Tree, S extends Tree>(layer: Layer<P, S>): Layer<P, S>;
  /** The function on tensors. */
  readonly fn: (x: Tensor) => Tensor;
}

/**
 * Make a pointwise activation from a function on tensors.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { dense } from 'tsnn';
 * const softsign = pointwise('softsign', (x) => tf.div(x, tf.add(tf.abs(x), 1)));
 * console.log(Array.from(softsign.fn(tf.tensor([1, -3])).dataSync())); // [0.5, -0.75]
 * const head = softsign(dense({ nf: 8 })); // dense, then softsign
 * ```
 */
export const pointwise = (name: string, fn: (x: tf.Tensor) => tf.Tensor): Pointwise => {
  decodeArg('pointwise.name', nonEmptyString('a non-empty name'), name);
  decodeArg('pointwise.fn', func<(x: tf.Tensor) => tf.Tensor>('a function on tensors'), fn);
  const lift = <P extends Tree, S extends Tree>(layer: Layer<P, S>): Layer<P, S> => ({
    name: layer.name,
    ...(layer.label === undefined ? {} : { label: layer.label }),
    init: layer.init,
    apply: tidyApply((params, state, x, ctx) => {
      const r = layer.apply(params, state, x, ctx);
      return { y: fn(singleInput(name, r.y)), state: r.state };
    }),
  });
  Object.defineProperty(lift, 'name', { value: name });
  return Object.assign(lift, {
    fn,
    init: (_key: Key, inShape: FlowShape) => ({ params: {}, state: {}, outShape: inShape }),
    apply: tidyApply((_params: Empty, state: Empty, x: Flow) => ({ y: fn(singleInput(name, x)), state })),
  }) as unknown as Pointwise;
};

/**
 * Rectified linear unit. `relu` is a layer, and `relu(layer)` is a layer.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { dense, prngKey, relu } from 'tsnn';
 *
 * console.log(Array.from(relu.fn(tf.tensor([-1, 2])).dataSync())); // [0, 2]
 * const hidden = relu(dense({ nf: 64 })); // dense, then relu: a layer with dense's params
 * console.log(hidden.init(prngKey(0), [8]).outShape); // [64]
 * ```
 */
export const relu: Pointwise = pointwise('relu', (x) => tf.relu(x));
/**
 * Logistic sigmoid.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * console.log(Array.from(sigmoid.fn(tf.tensor([0])).dataSync())); // [0.5]
 * ```
 */
export const sigmoid: Pointwise = pointwise('sigmoid', (x) => tf.sigmoid(x));
/**
 * Hyperbolic tangent.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * console.log(Array.from(tanh.fn(tf.tensor([0])).dataSync())); // [0]
 * ```
 */
export const tanh: Pointwise = pointwise('tanh', (x) => tf.tanh(x));
/**
 * SiLU / swish: x · sigmoid(x).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * console.log(Array.from(silu.fn(tf.tensor([0, 1])).dataSync(), (v) => +v.toFixed(3))); // [0, 0.731]
 * ```
 */
export const silu: Pointwise = pointwise('silu', (x) => tf.mul(x, tf.sigmoid(x)));
/**
 * GELU, tanh approximation (as in GPT-2 and PyTorch's `approximate='tanh'`).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { dense, gelu } from 'tsnn';
 *
 * console.log(Array.from(gelu.fn(tf.tensor([0, 1])).dataSync(), (v) => +v.toFixed(3))); // [0, 0.841]
 * const hidden = gelu(dense({ nf: 64 }));
 * ```
 */
export const gelu: Pointwise = pointwise(
  'gelu',
  (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.pow(x, 3))))))),
);

/**
 * Leaky ReLU with the given negative slope (PyTorch default 0.01).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { conv2d, leakyRelu } from 'tsnn';
 *
 * console.log(Array.from(leakyRelu(0.5).fn(tf.tensor([-2, 2])).dataSync())); // [-1, 2]
 * const body = leakyRelu(0.1)(conv2d({ nf: 8 }));
 * // leakyRelu(NaN) throws ConfigError: leakyRelu.slope: expected finite number, got NaN
 * ```
 */
export const leakyRelu = (slope = 0.01): Pointwise => {
  decodeArg('leakyRelu.slope', Finite, slope);
  return pointwise('leakyRelu', (x) => tf.leakyRelu(x, slope));
};
