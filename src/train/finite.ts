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

/**
 * The float32 tensors of a train state with their paths, in the order a step makes them: what the divergence guard checks.
 *
 * @example
 * ```ts
 * import { adamW, dense, disposeTrainState, initTrainState, prngKey } from 'tsnn';
 * import { floatLeaves } from './finite.ts';
 *
 * const ts = initTrainState(dense({ nf: 2 }), adamW(1e-3), prngKey(0), [3]);
 * console.log(floatLeaves(ts).map(([path]) => path)); // [ "params.weight", "params.bias", "optState.0.mu.weight", "optState.0.mu.bias", "optState.0.nu.weight", "optState.0.nu.bias" ]
 * disposeTrainState(ts);
 * ```
 */
export const floatLeaves = (ts: Pick<TrainState, 'params' | 'state' | 'optState'>): [string, tf.Tensor][] =>
  groups(ts).flatMap(([name, tree]) => flattenTree(tree, name)).filter(([, t]) => t.dtype === 'float32' && t.size > 0);

/**
 * The non-finite tensors of a train state, in the order a step makes them
 * (state, params, optimizer state; each in model order); empty when all are
 * finite. One pass (`allFinite`) decides the common case; the counts are
 * taken only when it finds something, all in one read (`data()`, so that it works on WebGPU).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { adamW, dense, disposeTrainState, initTrainState, nonFiniteTensors, prngKey } from 'tsnn';
 *
 * const ts = initTrainState(dense({ nf: 2 }), adamW(1e-3), prngKey(0), [3]);
 * console.log(await nonFiniteTensors(ts)); // []
 * const bias = tf.tensor([NaN, Infinity]);
 * console.log(await nonFiniteTensors({ ...ts, params: { bias } })); // [ { path: "params.bias", nan: 1, posInf: 1, negInf: 0, size: 2 } ]
 * bias.dispose();
 * disposeTrainState(ts);
 * ```
 */
export const nonFiniteTensors = async (ts: Pick<TrainState, 'params' | 'state' | 'optState'>): Promise<NonFinite[]> => {
  const leaves = floatLeaves(ts);
  if (await allFinite(leaves.map(([, t]) => t))) return [];
  const counts = tf.tidy(() =>
    tf.stack(leaves.map(([, t]) => tf.stack([tf.isNaN(t), tf.equal(t, Infinity), tf.equal(t, -Infinity)].map((m) => tf.sum(tf.cast(m, 'int32'))))))
  );
  let values: ArrayLike<number>;
  try {
    values = await counts.data();
  } finally {
    counts.dispose();
  }
  return leaves.flatMap(([path, t], i) => {
    const [nan, posInf, negInf] = [values[3 * i], values[3 * i + 1], values[3 * i + 2]];
    return nan + posInf + negInf > 0 ? [{ path, nan, posInf, negInf, size: t.size }] : [];
  });
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
