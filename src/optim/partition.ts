/**
 * Transformations over parts of the param tree, optax's `multi_transform`
 * and `set_to_zero`, and on them fastai's freezing by path: a frozen param
 * gets no update, no weight decay and no optimizer state, while BatchNorm's
 * may still train (fastai's `train_bn`).
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { decodeArg, func } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { flattenTree, type Tree, unflattenTree } from '../tree.ts';
import { type AnyTransformation, type GradientTransformation, tidyTransformation } from './base.ts';
import { assertTransformation } from './transforms.ts';

/**
 * tfjs-core's tensor type under a private alias: `deno doc --lint` reports npm types named in a public type
 * as private-type-ref (see src/layer.ts); an `@ignore`d alias silences just that.
 *
 * @ignore
 */
type Tensor = tf.Tensor;

/** Names the part of the tree a param belongs to, from its path and value. */
export type Labeler = (path: string, param: Tensor) => string;

/**
 * optax's `set_to_zero`: every update is zero and there is no state, so the
 * params it sees never move.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { setToZero } from 'tsnn';
 *
 * const opt = setToZero();
 * const { updates } = opt.update({ w: tf.ones([2]) }, opt.init({}), { w: tf.ones([2]) });
 * console.log(Array.from((updates as { w: tf.Tensor }).w.dataSync())); // [0, 0]
 * ```
 */
export const setToZero = (): GradientTransformation<Record<string, never>> => ({
  name: 'setToZero',
  init: () => ({}),
  update: (grads) => ({ updates: unflattenTree(flattenTree(grads).map(([p, g]) => [p, tf.zerosLike(g)] as const)) as Tree, state: {} }),
});

/**
 * optax's `multi_transform`: each param goes to the transformation named by
 * `labelOf(path, param)`, which sees only its own params (its state, moments
 * and weight decay cover those alone). The state is one record per label.
 * A label with no transformation is a ConfigError naming the param.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { multiTransform, scale } from 'tsnn';
 *
 * const opt = multiTransform({ slow: scale(-0.1), fast: scale(-1) }, (path) => (path.startsWith('head') ? 'fast' : 'slow'));
 * const params = { body: tf.ones([2]), head: tf.ones([2]) };
 * const { updates } = opt.update({ body: tf.ones([2]), head: tf.ones([2]) }, opt.init(params), params);
 * const u = updates as { body: tf.Tensor; head: tf.Tensor };
 * console.log(Array.from(u.body.dataSync(), (v) => +v.toFixed(3)), Array.from(u.head.dataSync())); // [-0.1, -0.1] [-1, -1]
 * ```
 */
export const multiTransform = (transforms: Readonly<Record<string, AnyTransformation>>, labelOf: Labeler): GradientTransformation<Record<string, Tree>> => {
  Object.entries(transforms).forEach(([k, t]) => assertTransformation(`multiTransform.transforms.${k}`, t));
  decodeArg('multiTransform.labelOf', func<Labeler>('a labeler (path, param) => label'), labelOf);
  const labels = Object.keys(transforms);
  /** The params' paths, grouped by label. */
  const partition = (params: Tree): Map<string, Set<string>> => {
    const parts = new Map(labels.map((l) => [l, new Set<string>()]));
    const strays: string[] = [];
    for (const [p, t] of flattenTree(params)) {
      const label = labelOf(p, t);
      const part = parts.get(label);
      if (part) part.add(p);
      else strays.push(`multiTransform: param ${p} is labelled ${JSON.stringify(label)}, expected one of ${labels.map((l) => JSON.stringify(l)).join(', ')}`);
    }
    if (strays.length) throw new ConfigError(strays);
    return parts;
  };
  const pick = (tree: Tree, paths: Set<string>): Tree => unflattenTree(flattenTree(tree).filter(([p]) => paths.has(p))) as Tree;
  return tidyTransformation({
    name: `multiTransform(${labels.map((l) => `${l}: ${transforms[l].name}`).join(', ')})`,
    init(params) {
      const parts = partition(params);
      return Object.fromEntries(labels.map((l) => [l, transforms[l].init(pick(params, parts.get(l)!))]));
    },
    update(grads, state, params) {
      const parts = partition(params), done = new Map<string, tf.Tensor>(), next: Record<string, Tree> = {};
      for (const l of labels) {
        const r = transforms[l].update(pick(grads, parts.get(l)!), state[l] ?? {}, pick(params, parts.get(l)!));
        flattenTree(r.updates).forEach(([p, u]) => done.set(p, u));
        next[l] = r.state;
      }
      return { updates: unflattenTree(flattenTree(grads).map(([p]) => [p, done.get(p)!] as const)) as Tree, state: next };
    },
  });
};

/** A BatchNorm param, as the library's `batchNorm` names them (`gamma`, `beta`). */
const isBatchNormParam = (path: string): boolean => /(^|\.)(gamma|beta)$/.test(path);

/** Whether `path` is `prefix` or lies under it. */
export const underPrefix = (path: string, prefix: string): boolean => prefix === '' || path === prefix || path.startsWith(`${prefix}.`);

/**
 * Freeze the params under any of `prefixes` (fastai's `freeze_to`): they get
 * zero updates and `opt` never sees them (no moments, no weight decay). With
 * `trainBn` (the default, fastai's `train_bn=True`), BatchNorm params stay
 * trainable even there. The state is `{ trainable, frozen }`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { freeze, sgd } from 'tsnn';
 *
 * const opt = freeze(sgd(1), ['body']);
 * const params = { body: { conv: { weight: tf.ones([2]) }, bn: { gamma: tf.ones([2]) } }, head: { weight: tf.ones([2]) } };
 * const grads = { body: { conv: { weight: tf.ones([2]) }, bn: { gamma: tf.ones([2]) } }, head: { weight: tf.ones([2]) } };
 * const u = opt.update(grads, opt.init(params), params).updates as typeof params;
 * console.log(u.body.conv.weight.dataSync()[0], u.body.bn.gamma.dataSync()[0], u.head.weight.dataSync()[0]); // 0 -1 -1
 * ```
 */
export const freeze = (
  opt: AnyTransformation,
  prefixes: readonly string[],
  options: { readonly trainBn?: boolean } = {},
): GradientTransformation<Record<string, Tree>> => {
  assertTransformation('freeze.opt', opt);
  if (!Array.isArray(prefixes) || !prefixes.every((p) => typeof p === 'string')) {
    throw new ConfigError([`freeze.prefixes: expected an array of path prefixes, got ${JSON.stringify(prefixes)}`]);
  }
  const trainBn = options.trainBn ?? true;
  return multiTransform(
    { trainable: opt, frozen: setToZero() },
    (path) => (prefixes.some((p) => underPrefix(path, p)) && !(trainBn && isBatchNormParam(path)) ? 'frozen' : 'trainable'),
  );
};
