/**
 * Pooling over NHWC tensors, matching PyTorch's `AvgPool2d` / `MaxPool2d`
 * (ceil mode included) and fastai's global average pooling.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import * as t from 'io-ts';
import { NonNegativeInt, optionSet, type OptionSetOf, type OptionsOf, PositiveInt, type SameType, typesAgree } from '../config.ts';
import { ConfigError, ShapeError, showShape } from '../errors.ts';
import { expectInput, type Layer, singleInput, singleShape, tidyApply } from '../layer.ts';
import type { Empty } from '../tree.ts';

const poolRequired = {
  size: PositiveInt,
};
const poolOptional = {
  stride: PositiveInt,
  padding: NonNegativeInt,
  ceilMode: t.boolean,
};
const PoolOptionSet: OptionSetOf<typeof poolRequired, typeof poolOptional> = optionSet('pool', poolRequired, poolOptional);

/** Options of {@link avgPool} and {@link maxPool}. */
export interface PoolOptions {
  /** Window size (square). */
  readonly size: number;
  /** Stride. Default `size`. */
  readonly stride?: number;
  /** Symmetric padding, at most `size / 2`. Default 0. */
  readonly padding?: number;
  /** Round the output size up, as PyTorch's `ceil_mode=True`. Default false. */
  readonly ceilMode?: boolean;
}
typesAgree<SameType<PoolOptions, OptionsOf<typeof PoolOptionSet>>>();

/**
 * PyTorch's pooling output size, ceil mode included.
 *
 * @example
 * ```ts
 * console.log(poolOutSize(7, 2, 2, 0, true)); // 4
 * console.log(poolOutSize(7, 2, 2, 0, false)); // 3
 * ```
 */
export const poolOutSize = (n: number, size: number, stride: number, pad: number, ceil: boolean): number => {
  const span = n + 2 * pad - size;
  let out = (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
  // PyTorch: the last window must start inside the input or its left padding.
  if (ceil && (out - 1) * stride >= n + pad) out -= 1;
  return out;
};

type Kind = 'avgPool' | 'maxPool';

const pool = (kind: Kind, opts: PoolOptions): Layer<Empty, Empty> => {
  const o = PoolOptionSet.decode(opts, kind);
  const size = o.size, stride = o.stride ?? o.size, pad = o.padding ?? 0, ceil = o.ceilMode ?? false;
  // PyTorch's rule: a window may not lie wholly in the padding.
  if (pad * 2 > size) throw new ConfigError([`${kind}.padding: expected at most half the window (size ${size}), got ${pad}`]);
  const outSizes = (h: number, w: number) => [poolOutSize(h, size, stride, pad, ceil), poolOutSize(w, size, stride, pad, ceil)];
  return {
    name: kind,
    init(_key, inShape) {
      const s = singleShape(kind, inShape);
      if (s.length !== 3) throw new ShapeError(kind, [], `expected input shape [*, h, w, c], got ${showShape(s)}`);
      const [oh, ow] = outSizes(s[0], s[1]);
      if (oh < 1 || ow < 1) throw new ShapeError(kind, [], `input ${showShape(s)} is smaller than the window ${size}`);
      return { params: {}, state: {}, outShape: [oh, ow, s[2]] };
    },
    apply: tidyApply((_params, state, x) => {
      const x4 = singleInput(kind, x) as tf.Tensor4D;
      expectInput(kind, x4, [null, null, null]);
      const [, h, w] = x4.shape;
      const [oh, ow] = outSizes(h, w);
      // Windows that overhang the (padded) input on the bottom/right in ceil mode.
      const extraH = Math.max(0, (oh - 1) * stride + size - (h + 2 * pad));
      const extraW = Math.max(0, (ow - 1) * stride + size - (w + 2 * pad));
      const pads: [number, number][] = [[0, 0], [pad, pad + extraH], [pad, pad + extraW], [0, 0]];
      if (kind === 'maxPool') {
        const xp = pad + extraH + extraW > 0 ? tf.pad(x4, pads, -Infinity) : x4;
        return { y: tf.maxPool(xp, size, stride, 'valid'), state };
      }
      if (pad + extraH + extraW === 0) return { y: tf.avgPool(x4, size, stride, 'valid'), state };
      // PyTorch counts explicit padding in the divisor but not the ceil-mode overhang.
      const sums = tf.mul(tf.avgPool(tf.pad(x4, pads) as tf.Tensor4D, size, stride, 'valid'), size * size);
      const ones = tf.pad(tf.ones([1, h + 2 * pad, w + 2 * pad, 1]), [[0, 0], [0, extraH], [0, extraW], [0, 0]]);
      const counts = tf.mul(tf.avgPool(ones as tf.Tensor4D, size, stride, 'valid'), size * size);
      return { y: tf.div(sums, counts), state };
    }),
  };
};

/**
 * Average pooling. `avgPool({ size: 2, ceilMode: true })` is fastai's
 * ResBlock shortcut pool, PyTorch's `AvgPool2d(2, ceil_mode=True)`.
 *
 * @example
 * ```ts
 * import { avgPool, prngKey } from 'tsnn';
 *
 * console.log(avgPool({ size: 2, ceilMode: true }).init(prngKey(0), [7, 7, 8]).outShape); // [4, 4, 8]
 * ```
 */
export const avgPool = (opts: PoolOptions): Layer<Empty, Empty> => pool('avgPool', opts);

/**
 * Max pooling, padding with -Infinity as PyTorch does.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { maxPool, prngKey } from 'tsnn';
 *
 * const pool = maxPool({ size: 3, stride: 2, padding: 1 }); // ResNet's stem pool
 * const { params, state, outShape } = pool.init(prngKey(0), [8, 8, 4]);
 * const { y } = pool.apply(params, state, tf.ones([1, 8, 8, 4]), { training: false });
 * console.log(outShape, (y as tf.Tensor).shape); // [4, 4, 4] [1, 4, 4, 4]
 * ```
 */
export const maxPool = (opts: PoolOptions): Layer<Empty, Empty> => pool('maxPool', opts);

/**
 * Mean over the spatial axes: `[b, h, w, c]` to `[b, c]`.
 *
 * @example
 * ```ts
 * import { globalAvgPool, prngKey } from 'tsnn';
 *
 * console.log(globalAvgPool.init(prngKey(0), [4, 4, 256]).outShape); // [256]
 * ```
 */
export const globalAvgPool: Layer<Empty, Empty> = {
  name: 'globalAvgPool',
  init(_key, inShape) {
    const s = singleShape('globalAvgPool', inShape);
    if (s.length !== 3) throw new ShapeError('globalAvgPool', [], `expected input shape [*, h, w, c], got ${showShape(s)}`);
    return { params: {}, state: {}, outShape: [s[2]] };
  },
  apply: tidyApply((_params, state, x) => {
    const x4 = singleInput('globalAvgPool', x);
    expectInput('globalAvgPool', x4, [null, null, null]);
    return { y: tf.mean(x4, [1, 2]), state };
  }),
};
