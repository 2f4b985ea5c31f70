/**
 * Finite checks over train states: the divergence guard of `fit`. A NaN or
 * an infinity in any parameter, statistic or optimizer moment is divergence,
 * whatever the loss says (a NaN can hide behind a finite loss), and a state
 * holding one cannot be saved as a checkpoint.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { allFinite } from '../ops/finite.ts';
import { flattenTree, type Tree } from '../tree.ts';
import type { TrainState } from './step.ts';

/** A tensor holding values that are not finite: where it is, and what it holds. */
export interface NonFinite {
  /** Its path in the train state, e.g. `state.0.bn.var` or `params.head.weight`. */
  readonly path: string;
  /** How many of its values are NaN. */
  readonly nan: number;
  /** How many are +Infinity. */
  readonly posInf: number;
  /** How many are -Infinity. */
  readonly negInf: number;
  /** How many values it holds in all. */
  readonly size: number;
}

/**
 * The groups of a train state in the order a step makes them: the forward
 * pass updates the state, the backward pass and the update give the params,
 * and the optimizer's moments come with them.
 */
const groups = (
  ts: Pick<TrainState, 'params' | 'state' | 'optState'>,
): [string, Tree][] => [['state', ts.state], ['params', ts.params], ['optState', ts.optState as Tree]];

const floatLeaves = (ts: Pick<TrainState, 'params' | 'state' | 'optState'>): [string, tf.Tensor][] =>
  groups(ts).flatMap(([name, tree]) => flattenTree(tree, name)).filter(([, t]) => t.dtype === 'float32' && t.size > 0);

/**
 * The non-finite tensors of a train state, in the order a step makes them
 * (state, params, optimizer state; each in model order); empty when all are
 * finite. One pass (`allFinite`) decides the common case; the counts are
 * taken only when it finds something.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adamW, dense, disposeTrainState, initTrainState, nonFiniteTensors, prngKey } from 'tsnn';
 *
 * const ts = initTrainState(dense({ nf: 2 }), adamW(1e-3), prngKey(0), [3]);
 * console.log(nonFiniteTensors(ts)); // []
 * const bias = tf.tensor([NaN, Infinity]);
 * console.log(nonFiniteTensors({ ...ts, params: { bias } })); // [ { path: "params.bias", nan: 1, posInf: 1, negInf: 0, size: 2 } ]
 * bias.dispose();
 * disposeTrainState(ts);
 * ```
 */
export const nonFiniteTensors = (ts: Pick<TrainState, 'params' | 'state' | 'optState'>): NonFinite[] => {
  const leaves = floatLeaves(ts);
  if (allFinite(leaves.map(([, t]) => t))) return [];
  const found: NonFinite[] = [];
  for (const [path, t] of leaves) {
    const counts = tf.tidy(() => tf.stack([tf.isNaN(t), tf.equal(t, Infinity), tf.equal(t, -Infinity)].map((m) => tf.sum(tf.cast(m, 'int32')))));
    const [nan, posInf, negInf] = counts.dataSync();
    counts.dispose();
    if (nan + posInf + negInf > 0) found.push({ path, nan, posInf, negInf, size: t.size });
  }
  return found;
};

/**
 * A tensor's non-finite values in words.
 *
 * @example
 * ```ts
 * console.log(describeNonFinite({ path: 'params.w', nan: 3, posInf: 0, negInf: 1, size: 16 })); // params.w holds 3 NaN and 1 -Infinity of 16 values
 * ```
 */
export const describeNonFinite = (n: NonFinite): string => {
  const parts = [[n.nan, 'NaN'], [n.posInf, '+Infinity'], [n.negInf, '-Infinity']].filter(([c]) => (c as number) > 0).map(([c, w]) => `${c} ${w}`);
  return `${n.path} holds ${parts.join(' and ')} of ${n.size} values`;
};
