/**
 * `chain`, optax's composition of transformations, and `stepParams`, one
 * optimizer step on the params. A chain runs its links one by one, except
 * where the chain executor (`fusion.ts`) recognises its links and runs them
 * as one op per leaf, with the same updates and state.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import type { Tree } from '../tree.ts';
import { decodeArg } from '../config.ts';
import {
  type AnyTransformation,
  applyUpdates,
  type GradientTransformation,
  type OptState,
  type ParamStep,
  tidyTransformation,
  Transformation,
  type Update,
} from './base.ts';
import { adamWPlan, runAdamWPlan } from './fusion.ts';

/** The fused step of the chains that have one: the new params, computed with the update in one pass. */
const fusedSteps = new WeakMap<AnyTransformation, (grads: Tree, state: OptState, params: Tree) => ParamStep>();

/**
 * Compose transformations left to right; the state is a record keyed by position.
 *
 * @example
 * ```ts
 * import { addDecayedWeights, chain, scaleByAdam, scaleByLearningRate } from 'tsnn';
 *
 * const adamw = chain(scaleByAdam({ b1: 0.9, b2: 0.99, eps: 1e-5 }), addDecayedWeights(0.01), scaleByLearningRate(1e-3));
 * console.log(adamw.name); // chain(scaleByAdam, addDecayedWeights, scaleByLearningRate)
 * ```
 */
export const chain = (...transforms: AnyTransformation[]): GradientTransformation<Record<string, OptState>> => {
  transforms.forEach((t, i) => decodeArg(`chain.${i}`, Transformation, t));
  const plan = adamWPlan(transforms);
  const links = (grads: Tree, state: Record<string, OptState>, params: Tree): Update<Record<string, OptState>> => {
    let updates = grads;
    const next: Record<string, OptState> = {};
    transforms.forEach((t, i) => {
      const r = t.update(updates, state[String(i)] ?? {}, params);
      updates = r.updates;
      next[String(i)] = r.state;
    });
    return { updates, state: next };
  };
  const chained = tidyTransformation({
    name: `chain(${transforms.map((t) => t.name).join(', ')})`,
    init: (params) => Object.fromEntries(transforms.map((t, i) => [String(i), t.init(params)])),
    update: plan ? (grads, state, params) => runAdamWPlan(plan, grads, state, params, false) : links,
  });
  if (plan) {
    const step = tidyTransformation({ name: chained.name, init: chained.init, update: (g, s, p) => runAdamWPlan(plan, g, s, p, true) });
    fusedSteps.set(chained, (grads, state, params) => {
      const r = step.update(grads, state as Record<string, OptState>, params);
      return { params: r.updates, state: r.state };
    });
  }
  return chained;
};

/**
 * One optimizer step on the params: `params + update(grads).updates`, the
 * new params and optimizer state. For chains the executor fuses, the update
 * is added in the same pass.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adamW, stepParams } from 'tsnn';
 *
 * const opt = adamW(1e-3), params = { w: tf.ones([2, 2]) };
 * const { params: next } = stepParams(opt, { w: tf.ones([2, 2]) }, opt.init(params), params);
 * // Adam's step of lr, and decay lr·wd·w: 1 − 0.001 − 0.00001.
 * console.log((next as { w: tf.Tensor }).w.dataSync()[0].toFixed(5)); // 0.99899
 * ```
 */
export const stepParams = <S extends OptState>(opt: GradientTransformation<S>, grads: Tree, state: S, params: Tree): ParamStep<S> => {
  const fused = fusedSteps.get(opt);
  if (fused) return fused(grads, state, params) as ParamStep<S>;
  return tf.tidy(() => {
    const r = opt.update(grads, state, params);
    return { params: applyUpdates(params, r.updates) as unknown as tf.Tensor, state: r.state as unknown as tf.Tensor };
  }) as unknown as ParamStep<S>;
};
