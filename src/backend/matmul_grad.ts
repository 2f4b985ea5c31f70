/**
 * MatMul's gradient without transpose flags. tfjs's stock gradient computes
 * `dy·bᵀ` and `aᵀ·dy` with `transposeA`/`transposeB`, which the wasm backend
 * runs several times slower than an explicit `transpose` followed by a plain
 * matMul (measured: [64,256]·[256,256]ᵀ took 3.6 ms against 0.5 ms). The
 * result is the same product, so only the speed changes.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { extendGradient } from './extend_gradient.ts';

/** `op(a)·op(b)` where `op` transposes when asked, with the transpose done first. */
const product = (a: tf.Tensor2D, b: tf.Tensor2D, ta: boolean, tb: boolean): tf.Tensor2D => tf.matMul(ta ? tf.transpose(a) : a, tb ? tf.transpose(b) : b);

/**
 * Register the flag-free gradient for rank-2 `BatchMatMul` (all backends);
 * batched products keep tfjs's own gradient.
 *
 * @example
 * ```ts
 * import { installMatMulGradient } from 'tsnn/backend';
 *
 * installMatMulGradient(); // once, before training (selectBackend does it); idempotent
 * ```
 */
export const installMatMulGradient: () => void = extendGradient('BatchMatMul', ['a', 'b'], (stock) => (dy, saved, attrs) => {
  const [a, b] = saved as [tf.Tensor2D, tf.Tensor2D];
  const d = dy as tf.Tensor2D;
  if (a.rank !== 2 || b.rank !== 2) return stock(dy, saved, attrs);
  const { transposeA: ta, transposeB: tb } = attrs as unknown as { transposeA: boolean; transposeB: boolean };
  // The four cases of tfjs's BatchMatMul_grad, each product without flags.
  if (!ta && !tb) return { a: () => product(d, b, false, true), b: () => product(a, d, true, false) };
  if (!ta && tb) return { a: () => product(d, b, false, false), b: () => product(d, a, true, false) };
  if (ta && !tb) return { a: () => product(b, d, false, true), b: () => product(a, d, false, false) };
  return { a: () => product(b, d, true, true), b: () => product(d, a, true, true) };
});
