/**
 * How a chain of transforms is executed fast. The transforms describe what
 * they compute (here, in a private table); a chain whose links read
 * `scaleByAdam`, optionally a (masked) `addDecayedWeights`, then
 * `scaleByLearningRate` runs as one Adam op per leaf (`ops/adam.ts`) with the
 * same updates and the same state as running its links one by one. The
 * transformation interface stays `{ init, update }`.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { adamStep } from '../ops/adam.ts';
import { ConfigError } from '../errors.ts';
import { flattenTree, type Tree, unflattenTree, zipTrees } from '../tree.ts';
import { type AnyTransformation, countOf, type Hyper, hyperAt, newCount, type OptState, type Update } from './base.ts';

/**
 * tfjs-core's tensor types under private aliases: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); `@ignore`d aliases silence just that.
 *
 * @ignore
 */
type Scalar = tf.Scalar;
/** @ignore */
type Tensor = tf.Tensor;

/** Decides per leaf whether a masked transform applies. */
export type Mask = (path: string, param: Tensor) => boolean;

/** Adam's checked options. */
export interface AdamHypers {
  readonly b1: Hyper;
  readonly b2: number;
  readonly eps: number;
  readonly epsRoot: number;
}

/** What a transform computes, for the chain executor. */
export type Description =
  | { readonly kind: 'adam'; readonly hypers: AdamHypers }
  | { readonly kind: 'decay'; readonly weightDecay: Hyper; readonly mask?: Mask }
  | { readonly kind: 'lr'; readonly lr: Hyper };

const descriptions = new WeakMap<object, Description>();

/**
 * Record what `t` computes, and return it.
 *
 * @example
 * ```ts
 * import { described } from './fusion.ts';
 * const t = described({ name: 'lr', init: () => ({}), update: (g, s) => ({ updates: g, state: s }) }, { kind: 'lr', lr: 0 });
 * ```
 */
export const described = <T extends AnyTransformation>(t: T, d: Description): T => {
  descriptions.set(t, d);
  return t;
};

/**
 * What `t` computes, where it was described.
 *
 * @example
 * ```ts
 * import { descriptionOf } from './fusion.ts';
 * import { scaleByLearningRate } from 'tsnn';
 * console.log(descriptionOf(scaleByLearningRate(0.1))?.kind); // 'lr'
 * ```
 */
export const descriptionOf = (t: AnyTransformation): Description | undefined => descriptions.get(t);

/** AdamW's numbers, read from a chain's links. */
interface AdamWPlan {
  readonly adam: AdamHypers;
  readonly decay?: { readonly weightDecay: Hyper; readonly mask?: Mask };
  readonly lr: Hyper;
}

/**
 * The plan of a chain whose links are `[adam, lr]` or `[adam, decay, lr]`, else undefined.
 *
 * @example
 * ```ts
 * import { adamWPlan } from './fusion.ts';
 * import { scaleByAdam, scaleByLearningRate } from 'tsnn';
 * console.log(adamWPlan([scaleByAdam(), scaleByLearningRate(1e-3)]) !== undefined); // true
 * ```
 */
export const adamWPlan = (links: readonly AnyTransformation[]): AdamWPlan | undefined => {
  const d = links.map(descriptionOf);
  const [first, middle, last] = d.length === 3 ? d : [d[0], undefined, d[1]];
  if ((d.length !== 2 && d.length !== 3) || first?.kind !== 'adam' || last?.kind !== 'lr') return undefined;
  if (d.length === 3 && middle?.kind !== 'decay') return undefined;
  return { adam: first.hypers, decay: middle?.kind === 'decay' ? middle : undefined, lr: last.lr };
};

/** The state of Adam's link: the step count and the two moment trees. */
export type AdamState = { count: Scalar; mu: Tree; nu: Tree };

/** AdamW's terms for one leaf: the learning rate, its decay, and the param. */
type Decoupled = (path: string) => { lr: number; wd: number; p: tf.Tensor };

/**
 * One Adam step over a tree, one op per leaf. With `decoupled` it is the whole
 * AdamW update (applied to the params when `apply`); without, Adam's direction.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adamUpdate } from './fusion.ts';
 *
 * const g = { w: tf.ones([2]) };
 * const state = { count: tf.scalar(0, 'int32'), mu: { w: tf.zeros([2]) }, nu: { w: tf.zeros([2]) } };
 * const { updates } = adamUpdate(g, state, { b1: 0.9, b2: 0.999, eps: 1e-8, epsRoot: 0 });
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync(), (v) => +v.toFixed(5))); // [1, 1]: Adam's first direction is the gradient's sign
 * ```
 */
export const adamUpdate = (grads: Tree, state: AdamState, o: AdamHypers, decoupled?: (step: number) => Decoupled, apply = false): Update<AdamState> => {
  const step = countOf(state.count);
  const beta1 = hyperAt(o.b1, step), t = step + 1;
  const h = { b1: beta1, b2: o.b2, c1: 1 - beta1 ** t, c2: 1 - o.b2 ** t, eps: o.eps, epsRoot: o.epsRoot };
  const terms = decoupled?.(step);
  // The updates tree carries the paths; the moments are gathered into their own trees.
  const moments = new Map<string, [tf.Tensor, tf.Tensor]>();
  const updates = zipTrees([grads, state.mu, state.nu], ([g, m, v], path) => {
    const w = terms?.(path);
    const [mu, nu, u] = w ? adamStep(g, m, v, { ...h, lr: w.lr, wd: w.wd, apply }, w.p) : adamStep(g, m, v, h);
    moments.set(path, [mu, nu]);
    return u;
  });
  const pick = (i: 0 | 1) => unflattenTree([...moments].map(([p, pair]) => [p, pair[i]] as const)) as Tree;
  return { updates, state: { count: newCount(t), mu: pick(0), nu: pick(1) } };
};

/**
 * Run an AdamW plan on a chain's state (`{ 0: adam, 1: decay, 2: lr }` or
 * `{ 0: adam, 1: lr }`): the chain's updates, or with `apply` the new params.
 * Every link's count advances, as when the links run one by one.
 *
 * @example
 * ```ts
 * import { adamWPlan, runAdamWPlan } from './fusion.ts';
 * import { scaleByAdam, scaleByLearningRate } from 'tsnn';
 * const links = [scaleByAdam(), scaleByLearningRate(1e-3)];
 * // runAdamWPlan(adamWPlan(links)!, grads, chainState, params, false)
 * ```
 */
export const runAdamWPlan = (plan: AdamWPlan, grads: Tree, state: Record<string, OptState>, params: Tree, apply: boolean): Update<Record<string, OptState>> => {
  if (!params) throw new ConfigError(['adamW: update needs the params (for the weight decay)']);
  const adamState = state['0'] as AdamState;
  const byPath = new Map(flattenTree(params));
  const r = adamUpdate(grads, adamState, plan.adam, (step) => {
    const rate = hyperAt(plan.lr, step), wd = plan.decay ? hyperAt(plan.decay.weightDecay, step) : 0;
    return (path) => {
      const p = byPath.get(path)!;
      return { lr: rate, wd: wd !== 0 && (plan.decay?.mask?.(path, p) ?? true) ? wd : 0, p };
    };
  }, apply);
  // The other links keep only a count, which moves in step with Adam's.
  const others = Object.keys(state).filter((k) => k !== '0').map((k) => [k, { count: tf.clone(r.state.count) }] as const);
  return { updates: r.updates, state: { '0': r.state, ...Object.fromEntries(others) } };
};
