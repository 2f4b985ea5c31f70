/**
 * Pooling gradients registered with tfjs's public `registerGradient`.
 *
 * - MaxPool ('valid'): each window's gradient goes to its first maximum in
 *   row-major order, as PyTorch does. tfjs's wasm MaxPoolGrad drops
 *   gradients next to -Infinity padding, and the cpu and wasm backends must
 *   agree.
 * - AvgPool over non-overlapping blocks that tile the input exactly (the
 *   ResBlock shortcut's 2×2): the gradient spreads `dy / s²` over each block
 *   with one broadcasting multiply. wasm's AvgPoolGrad kernel took about 7×
 *   as long (1.0 ms against 0.14 ms on [32, 7, 7, 16]).
 *
 * Other cases keep tfjs's own gradients.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { zeroInterleave } from './zero_interleave.ts';
import { extendGradient } from './extend_gradient.ts';

interface PoolAttrs {
  readonly filterSize: number | [number, number];
  readonly strides: number | [number, number];
  readonly pad: unknown;
  readonly dimRoundingMode?: string;
}

/** The square window and stride of a 'valid' pool, or undefined for any other. */
const squareValid = (a: PoolAttrs): { size: number; stride: number } | undefined => {
  const [fh, fw] = Array.isArray(a.filterSize) ? a.filterSize : [a.filterSize, a.filterSize];
  const [sh, sw] = Array.isArray(a.strides) ? a.strides : [a.strides, a.strides];
  return a.pad === 'valid' && a.dimRoundingMode === undefined && fh === fw && sh === sw ? { size: fh, stride: sh } : undefined;
};

/** Scatter `t` ([n, oh, ow, c]) to rows `di + i·s`, columns `dj + j·s` of an [n, h, w, c] zero tensor. */
const scatterStrided = (t: tf.Tensor4D, di: number, dj: number, s: number, h: number, w: number): tf.Tensor4D => {
  const [n, oh, ow, c] = t.shape;
  const spread = zeroInterleave(t, s, s);
  const rows = Math.min(oh * s, h - di), cols = Math.min(ow * s, w - dj);
  const cut = tf.slice(spread, [0, 0, 0, 0], [n, rows, cols, c]);
  return tf.pad(cut, [[0, 0], [di, h - di - rows], [dj, w - dj - cols], [0, 0]]) as tf.Tensor4D;
};

/** dx of a 'valid' max pool: each window's dy to its first maximum, row-major. */
const firstMaxGrad = (dy: tf.Tensor4D, x: tf.Tensor4D, y: tf.Tensor4D, size: number, stride: number): tf.Tensor4D => {
  const [n, h, w, c] = x.shape;
  const [, oh, ow] = y.shape;
  let claimed: tf.Tensor = tf.zerosLike(y);
  const parts: tf.Tensor4D[] = [];
  for (let di = 0; di < size; di++) {
    for (let dj = 0; dj < size; dj++) {
      const tap = tf.stridedSlice(x, [0, di, dj, 0], [n, di + (oh - 1) * stride + 1, dj + (ow - 1) * stride + 1, c], [1, stride, stride, 1]);
      const hit = tf.mul(tf.cast(tf.equal(tap, y), 'float32'), tf.sub(1, claimed));
      claimed = tf.add(claimed, hit);
      parts.push(scatterStrided(tf.mul(dy, hit) as tf.Tensor4D, di, dj, stride, h, w));
    }
  }
  return tf.addN(parts);
};

/**
 * Install the MaxPool gradient (idempotent).
 *
 * @example
 * ```ts
 * import { installMaxPoolGradient } from 'tsnn/backend';
 * installMaxPoolGradient();
 * ```
 */
export const installMaxPoolGradient: () => void = extendGradient('MaxPool', ['x'], (stock) => (dy, saved, attrs) => {
  const g = squareValid(attrs as unknown as PoolAttrs);
  const [x, y] = saved as [tf.Tensor4D, tf.Tensor4D];
  if (!g || x.rank !== 4) return stock(dy, saved, attrs);
  return { x: () => firstMaxGrad(dy as tf.Tensor4D, x, y, g.size, g.stride) };
}, [true]);

/**
 * Install the AvgPool gradient (idempotent).
 *
 * @example
 * ```ts
 * import { installAvgPoolGradient } from 'tsnn/backend';
 * installAvgPoolGradient();
 * ```
 */
export const installAvgPoolGradient: () => void = extendGradient('AvgPool', ['x'], (stock) => (dy, saved, attrs) => {
  const g = squareValid(attrs as unknown as PoolAttrs);
  const [x] = saved as [tf.Tensor4D];
  if (!g || g.size !== g.stride || x.rank !== 4 || x.shape[1] % g.size !== 0 || x.shape[2] % g.size !== 0) return stock(dy, saved, attrs);
  const s = g.size;
  return {
    x: () => {
      const d = dy as tf.Tensor4D, [n, oh, ow, c] = d.shape;
      const spread = tf.mul(tf.reshape(d, [n, oh, 1, ow, 1, c]), tf.fill([1, 1, s, 1, s, 1], 1 / (s * s)));
      return tf.reshape(spread, [n, oh * s, ow * s, c]);
    },
  };
});
