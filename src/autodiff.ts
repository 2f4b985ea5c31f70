/**
 * Gradients over parameter trees, in the style of `jax.value_and_grad`.
 *
 * @module
 */
import * as tf from './tfjs/tf.ts';
import { releaseTapeOnThrow } from './backend/tape.ts';
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
 * made along the way is disposed, also when `f` throws. Leaves of `params` that `f` ignores get
 * zero gradients.
 *
 * @example
 * const vg = valueAndGrad((p: { w: tf.Tensor }) => ({ loss: tf.sum(tf.square(p.w)) }));
 * const { value, grads } = vg({ w: tf.tensor([1, 2]) }); // grads.w = [2, 4]
 */
export const valueAndGrad = <P extends Tree, A extends Tree = Tree>(f: (params: P) => LossAndAux<A>) => (params: P): ValueAndGrad<P, A> => {
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
