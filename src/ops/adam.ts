/**
 * Adam's per-leaf arithmetic as one op: the new moments and the step. The
 * math is below in tfjs ops (13 elementwise ops per leaf); the engine may run
 * it as one pass over memory instead (see `backend/adam_kernel.ts`).
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { type Slot, slot } from './slot.ts';

/**
 * tfjs-core's tensor types under private aliases: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); `@ignore`d aliases silence just that.
 *
 * @ignore
 */
type Tensor = tf.Tensor;

/** The numbers of one Adam step; `c1`, `c2` are the bias corrections `1 − βᵗ`. */
export interface AdamStepHypers {
  /** First-moment decay β₁. */
  readonly b1: number;
  /** Second-moment decay β₂. */
  readonly b2: number;
  /** First-moment bias correction `1 − β₁ᵗ`. */
  readonly c1: number;
  /** Second-moment bias correction `1 − β₂ᵗ`. */
  readonly c2: number;
  /** Added to the denominator, outside the square root. */
  readonly eps: number;
  /** Added inside the square root. */
  readonly epsRoot: number;
  /**
   * For AdamW's whole update: the learning rate and the decoupled weight
   * decay, giving `u = −lr·(adam + wd·p)`. Without them `u` is Adam's direction.
   */
  readonly lr?: number;
  /** AdamW's decoupled weight decay (with `lr`). */
  readonly wd?: number;
  /** With `p`: give the new param `p + u` in place of `u` (applying the update in the same pass). */
  readonly apply?: boolean;
}

/** An engine's Adam step: `[m′, v′, u]`, or undefined to decline (and use the math). */
export type AdamStepImpl = (g: Tensor, m: Tensor, v: Tensor, h: AdamStepHypers, p?: Tensor) => [Tensor, Tensor, Tensor] | undefined;

/** Where the engine plugs its Adam step. */
export const adamStepSlot: Slot<AdamStepImpl> = slot<AdamStepImpl>('adamStep');

/**
 * One Adam step of one leaf: `m′ = β₁m + (1−β₁)g`, `v′ = β₂v + (1−β₂)g²`,
 * and the direction `u = (m′/c₁) / (√(v′/c₂ + ε_root) + ε)`. With `p` and
 * `h.lr` it is AdamW's whole update `−lr·(u + wd·p)`, and with `h.apply`
 * the new param `p − lr·(u + wd·p)`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adamStep } from 'tsnn/backend';
 * const [m, v, u] = adamStep(tf.tensor1d([1]), tf.zeros([1]), tf.zeros([1]), { b1: 0.9, b2: 0.999, c1: 0.1, c2: 0.001, eps: 0, epsRoot: 0 });
 * console.log(Array.from(u.dataSync())); // [1]
 * ```
 */
export const adamStep = (g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, h: AdamStepHypers, p?: tf.Tensor): [tf.Tensor, tf.Tensor, tf.Tensor] => {
  if (h.apply && !p) throw new Error('adamStep: apply needs the param p');
  return adamStepSlot.impl?.(g, m, v, h, p) ?? tf.tidy(() => {
    const mu = tf.add(tf.mul(m, h.b1), tf.mul(g, 1 - h.b1));
    const nu = tf.add(tf.mul(v, h.b2), tf.mul(tf.square(g), 1 - h.b2));
    const dir = tf.div(tf.div(mu, h.c1), tf.add(tf.sqrt(tf.add(tf.div(nu, h.c2), h.epsRoot)), h.eps));
    const u = h.lr === undefined ? dir : tf.mul(p && h.wd ? tf.add(dir, tf.mul(p, h.wd)) : dir, -h.lr);
    return [mu, nu, h.apply ? tf.add(p!, u) : u];
  });
};
