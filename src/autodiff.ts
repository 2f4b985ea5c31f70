/**
 * Gradients over parameter trees, in the style of `jax.value_and_grad`.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs';
import { flattenTree, keepTree, type Tree, unflattenTree } from './tree.ts';

/** What the differentiated function returns: a scalar loss and optional auxiliary outputs. */
export interface LossAndAux<A extends Tree> {
  readonly loss: tf.Scalar;
  readonly aux?: A;
}

/** The loss, the gradient tree (same structure as the params) and the aux outputs. */
export interface ValueAndGrad<P extends Tree, A extends Tree> {
  readonly value: tf.Scalar;
  readonly grads: P;
  readonly aux: A | undefined;
}

/**
 * `valueAndGrad(f)(params)` evaluates `f` and its gradient with respect to
 * every leaf of `params`. Only the returned tensors are new: everything else
 * made along the way is disposed. Leaves of `params` that `f` ignores get
 * zero gradients.
 *
 * @example
 * const vg = valueAndGrad((p: { w: tf.Tensor }) => ({ loss: tf.sum(tf.square(p.w)) }));
 * const { value, grads } = vg({ w: tf.tensor([1, 2]) }); // grads.w = [2, 4]
 */
export const valueAndGrad = <P extends Tree, A extends Tree = Tree>(f: (params: P) => LossAndAux<A>) =>
(params: P): ValueAndGrad<P, A> => {
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
  const result = tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => {
      const r = f(unflattenTree(paths.map((p, i) => [p, xs[i]] as const)) as P);
      // Connect every leaf, so that params f ignores get zero gradients rather than an error.
      const zero = xs.reduce((acc: tf.Scalar, x) => tf.add(acc, tf.mul(tf.sum(x), 0)) as tf.Scalar, tf.scalar(0));
      aux = r.aux === undefined ? undefined : keepTree(r.aux);
      return tf.add(r.loss, zero) as tf.Scalar;
    })(pairs.map(([, t]) => t));
    return { value, grads };
  });
  return {
    value: result.value as tf.Scalar,
    grads: unflattenTree(paths.map((p, i) => [p, result.grads[i]] as const)) as P,
    aux,
  };
};
