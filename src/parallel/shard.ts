/**
 * The gradient of one shard of a batch, computed the same way by the calling
 * thread and by every gradient worker.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { type ValueAndGrad, valueAndGrad } from '../autodiff.ts';
import type { AnyLayer } from '../layer.ts';
import type { Key } from '../random.ts';
import type { Loss } from '../train/losses.ts';
import type { Tree } from '../tree.ts';

/**
 * Loss, gradients and new layer state of `model` on one shard, in training
 * mode. The loss is scaled by the shard's `weight` (its share of the batch),
 * so that the shards' gradients sum to the batch gradient.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { crossEntropy, dense, disposeTree, prngKey } from 'tsnn';
 * import { shardGradient } from './shard.ts';
 *
 * const model = dense({ nf: 2 });
 * const { params, state } = model.init(prngKey(0), [3]);
 * const x = tf.zeros([2, 3]), y = tf.tensor1d([0, 1], 'int32');
 * // Two examples of a batch of four: the shard's loss weighs 0.5.
 * const half = shardGradient(model, crossEntropy, params, state, x, y, prngKey(1), 0.5);
 * const whole = shardGradient(model, crossEntropy, params, state, x, y, prngKey(1), 1);
 * console.log(half.value.dataSync()[0] / whole.value.dataSync()[0]); // 0.5
 * for (const r of [half, whole]) disposeTree({ value: r.value, grads: r.grads });
 * disposeTree(params);
 * tf.dispose([x, y]);
 * ```
 */
export const shardGradient = (
  model: AnyLayer,
  loss: Loss,
  params: Tree,
  state: Tree,
  x: tf.Tensor,
  y: tf.Tensor,
  key: Key,
  weight: number,
): ValueAndGrad<Tree, Tree> =>
  valueAndGrad((p: Tree) => {
    const r = model.apply(p, state, x, { training: true, key });
    const l = loss(r.y, y);
    return { loss: weight === 1 ? l : tf.mul(l, weight) as tf.Scalar, aux: r.state as Tree };
  })(params);
