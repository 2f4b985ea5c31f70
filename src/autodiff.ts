/**
 * Gradients over parameter trees, in the style of `jax.value_and_grad`.
 *
 * @module
 */
import * as tf from './tfjs/tf.ts';
import { releaseTapeOnThrow } from './backend/tape.ts';
import { flattenTree, keepTree, type Tree, unflattenTree } from './tree.ts';

/** @ignore tfjs-core's type: deno doc --lint flags npm types used directly as private (see src/layer.ts's Tensor). */
type Scalar = tf.Scalar;

/** What the differentiated function returns: a scalar loss and optional auxiliary outputs. */
export interface LossAndAux<A extends Tree> {
  /** The scalar to differentiate. */
  readonly loss: Scalar;
  /** Anything else to return (predictions, metrics); kept, not differentiated. */
  readonly aux?: A;
}

/** The loss, the gradient tree (same structure as the params) and the aux outputs. */
export interface ValueAndGrad<P extends Tree, A extends Tree> {
  /** The loss. */
  readonly value: Scalar;
  /** d loss / d leaf, for every leaf of the params, in the same tree. */
  readonly grads: P;
  /** `f`'s `aux`, or undefined when it returned none. */
  readonly aux: A | undefined;
}

/**
 * `valueAndGrad(f)(params)` evaluates `f` and its gradient with respect to
 * every leaf of `params`. Only the returned tensors are new: everything else
 * made along the way is disposed, also when `f` throws. Leaves of `params` that `f` ignores get
 * zero gradients.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree, valueAndGrad } from 'tsnn';
 *
 * const vg = valueAndGrad((p: { w: tf.Tensor }) => ({ loss: tf.sum(tf.square(p.w)) as tf.Scalar }));
 * const params = { w: tf.tensor([1, 2]) };
 * const { value, grads } = vg(params);
 * console.log(value.dataSync()[0], Array.from(grads.w.dataSync())); // 5 [ 2, 4 ]
 * disposeTree({ params, value, grads });
 * ```
 */
export const valueAndGrad = <P extends Tree, A extends Tree = Tree>(f: (params: P) => LossAndAux<A>): (params: P) => ValueAndGrad<P, A> => (params) => {
  const pairs = flattenTree(params);
  const paths = pairs.map(([p]) => p);
  let aux: A | undefined;
  if (pairs.length === 0) {
    // Nothing to differentiate: tfjs refuses an empty list, so just evaluate.
    const value = tf.tidy(() => {
      const r = f(params);
      aux = r.aux === undefined ? undefined : keepTree(r.aux);
      return r.loss;
    });
    return { value, grads: {} as P, aux };
  }
  const xs = pairs.map(([, t]) => t);
  const result = tf.tidy(() => {
    // The engine's own gradients() with allowNoGradients: params that f ignores
    // come back undefined (zeros below) instead of failing the whole call.
    const { value, grads } = tf.engine().gradients(
      () =>
        releaseTapeOnThrow(() => {
          const r = f(unflattenTree(paths.map((p, i) => [p, xs[i]] as const)) as P);
          if (!(r.loss instanceof tf.Tensor) || r.loss.rank !== 0) {
            throw new Error(`valueAndGrad: the loss must be a scalar tensor, got ${r.loss instanceof tf.Tensor ? `shape [${r.loss.shape}]` : typeof r.loss}`);
          }
          aux = r.aux === undefined ? undefined : keepTree(r.aux);
          return r.loss;
        }),
      xs,
      undefined,
      true,
    );
    return { value, grads: xs.map((x, i) => (grads[i] as tf.Tensor | undefined) ?? tf.zerosLike(x)) };
  });
  return {
    value: result.value as tf.Scalar,
    grads: unflattenTree(paths.map((p, i) => [p, result.grads[i]] as const)) as P,
    aux,
  };
};
