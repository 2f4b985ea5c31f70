/**
 * Whether a train state belongs to a model and optimizer: the same tensor
 * paths, shapes and dtypes as a fresh `initTrainState` of them. Layers use
 * whatever params they are handed, so another model's state would otherwise
 * train on without a word.
 *
 * @module
 */
import { listedProblems } from '../errors.ts';
import type { AnyLayer, FlowShape, Shape } from '../layer.ts';
import type { AnyTransformation } from '../optim/base.ts';
import { prngKey } from '../random.ts';
import { flattenTree, type Tree } from '../tree.ts';
import { disposeTrainState, initTrainStateAndShape, type TrainState } from './step.ts';

/**
 * Whether a model's output shape fits the loaders' classes: a model giving
 * one vector per example must give `nClasses` of them (else some labels have
 * no logit, or some logits no label). Returns a problem per loader that does
 * not fit, by name.
 *
 * @example
 * ```ts
 * import { classCountProblems } from './structure.ts';
 *
 * console.log(classCountProblems([3], { train: 10, valid: 3 })); // [ "train: the model gives 3 outputs per example, the data has 10 classes" ]
 * ```
 */
export const classCountProblems = (outShape: FlowShape, nClasses: Record<string, number | undefined>): string[] => {
  if (!(outShape.length === 1 && typeof outShape[0] === 'number')) return [];
  return Object.entries(nClasses).filter(([, n]) => n !== undefined && n !== outShape[0])
    .map(([name, n]) => `${name}: the model gives ${outShape[0]} outputs per example, the data has ${n} classes`);
};

const show = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/**
 * Every way `ts` differs in structure from a fresh train state of `model`
 * and `opt` on `inShape` (at most 20, then a count), and the model's output
 * shape found on the way: missing, unexpected,
 * (params and state only, when `ts` has no optimizer state)
 * wrongly shaped or typed tensors, by path. Empty when it fits.
 *
 * @example
 * ```ts
 * import { adamW, dense, disposeTrainState, initTrainState, prngKey } from 'tsnn';
 * import { compareTrainState } from './structure.ts';
 *
 * const opt = adamW(1e-3);
 * const ts = initTrainState(dense({ nf: 2 }), opt, prngKey(0), [3]);
 * console.log(compareTrainState(dense({ nf: 4 }), opt, [3], ts).problems[0]); // params.bias: expected shape [4], got [2]
 * disposeTrainState(ts);
 * ```
 */
export const compareTrainState = (
  model: AnyLayer,
  opt: AnyTransformation,
  inShape: Shape,
  ts: Pick<TrainState, 'params' | 'state'> & Partial<Pick<TrainState, 'optState'>>,
): { problems: string[]; outShape: FlowShape } => {
  const { trainState: reference, outShape } = initTrainStateAndShape(model, opt, prngKey(0), inShape);
  const problems: string[] = [];
  try {
    const groups = [['params', reference.params, ts.params], ['state', reference.state, ts.state], ['optState', reference.optState, ts.optState]] as const;
    // Without an optimizer state (lrFind's `from`), only params and state are compared.
    for (const [group, a, b] of groups.filter(([, , b]) => b !== undefined)) {
      const want = new Map(flattenTree(a as Tree, group).map(([p, t]) => [p, t]));
      const got = new Map(flattenTree(b as Tree, group).map(([p, t]) => [p, t]));
      for (const [path, w] of want) {
        const g = got.get(path);
        if (!g) problems.push(`${path}: missing (expected shape ${show(w.shape)})`);
        else if (g.shape.join() !== w.shape.join()) problems.push(`${path}: expected shape ${show(w.shape)}, got ${show(g.shape)}`);
        else if (g.dtype !== w.dtype) problems.push(`${path}: expected dtype ${w.dtype}, got ${g.dtype}`);
        else if (g.isDisposed) problems.push(`${path}: is disposed`);
      }
      for (const path of got.keys()) if (!want.has(path)) problems.push(`${path}: unexpected (not in this model and optimizer)`);
    }
  } finally {
    disposeTrainState(reference);
  }
  return { problems: listedProblems(problems), outShape };
};
