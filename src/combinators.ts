/**
 * Combinators: layers built from layers, as in stax. A combinator's params
 * and state are records keyed by each child's label (see `withLabel`) or, when
 * it has none, by its position.
 *
 * @module
 */
import * as tf from './tfjs/tf.ts';
import { decodeArg, nonEmptyString, positiveIntUpTo, showValue } from './config.ts';
import { ConfigError, ShapeError, showShape, underChild } from './errors.ts';
import { type AnyLayer, type Ctx, type Flow, type FlowShape, type Layer, type Shape, singleInput, tidyApply } from './layer.ts';
import { foldIn } from './random.ts';
import type { Tree } from './tree.ts';

/** Params or state of a combinator: one entry per child. */
export type Children = { readonly [key: string]: Tree };

// ---------------------------------------------------------------------------
// Children bookkeeping
// ---------------------------------------------------------------------------

/**
 * The record keys of `layers`: label, else position. Labels must be unique.
 *
 * @example
 * ```ts
 * import { identity, relu, withLabel } from 'tsnn';
 *
 * console.log(childKeys('serial', [withLabel('a', identity), relu])); // [ "a", "1" ]
 * ```
 */
export const childKeys = (owner: string, layers: readonly AnyLayer[]): string[] => {
  const keys = layers.map((l, i) => l?.label ?? String(i));
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) throw new ConfigError([`${owner}: two children share the key '${dup}'; give them distinct labels with withLabel()`]);
  layers.forEach((l, i) => {
    if (typeof l?.init !== 'function' || typeof l?.apply !== 'function') {
      const hint = typeof l === 'function' ? ' (a layer factory? call it: conv2d({ nf: 8 }), not conv2d)' : '';
      throw new ConfigError([`${owner}: child ${i} is not a layer (expected {name, init, apply}), got ${showValue(l)}${hint}`]);
    }
  });
  return keys;
};

/** The context a child sees: its own key derived from the parent's. */
const childCtx = (ctx: Ctx, i: number, key: string): Ctx => ({
  ...ctx,
  ...(ctx.key ? { key: foldIn(ctx.key, i) } : {}),
  ...(ctx.observe ? { path: [...(ctx.path ?? []), key] } : {}),
});

/** Apply child `i` under its key: errors get its path, observers see its output. */
const applyChild = (layer: AnyLayer, i: number, key: string, params: Children, state: Children, x: Flow, ctx: Ctx) => {
  const cctx = childCtx(ctx, i, key);
  const r = underChild(key, () => layer.apply(get(params, key), get(state, key), x, cctx));
  cctx.observe?.(cctx.path ?? [key], layer.name, r.y);
  return r;
};

const get = (rec: Children, key: string): Tree => rec[key] ?? {};

const sameShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

const showFlowShape = (s: FlowShape): string =>
  s.length > 0 && Array.isArray(s[0]) ? `(${(s as Shape[]).map((x) => showShape(x)).join(', ')})` : showShape(s as Shape);

// ---------------------------------------------------------------------------
// serial
// ---------------------------------------------------------------------------

/**
 * Compose layers in sequence: `serial(f, g)(x) = g(f(x))`.
 *
 * @example
 * ```ts
 * import { countParams, dense, disposeTree, flatten, prngKey, relu, serial } from 'tsnn';
 *
 * const mlp = serial(flatten, dense({ nf: 64 }), relu, dense({ nf: 10 }));
 * const { params, outShape } = mlp.init(prngKey(0), [28, 28, 1]);
 * console.log(outShape, Object.keys(params), countParams(params)); // [ 10 ] [ "0", "1", "2", "3" ] 50890
 * disposeTree(params);
 * ```
 */
export const serial = (...layers: AnyLayer[]): Layer<Children, Children> => {
  const keys = childKeys('serial', layers);
  return {
    name: 'serial',
    init(key, inShape) {
      const params: Record<string, Tree> = {}, state: Record<string, Tree> = {};
      let shape = inShape;
      layers.forEach((l, i) => {
        const r = underChild(keys[i], () => l.init(foldIn(key, i), shape));
        params[keys[i]] = r.params;
        state[keys[i]] = r.state;
        shape = r.outShape;
      });
      return { params, state, outShape: shape };
    },
    apply: tidyApply((params, state, x, ctx) => {
      const newState: Record<string, Tree> = {};
      let y = x;
      layers.forEach((l, i) => {
        const k = keys[i];
        const r = applyChild(l, i, k, params, state, y, ctx);
        y = r.y;
        newState[k] = r.state;
      });
      return { y, state: newState };
    }),
  };
};

// ---------------------------------------------------------------------------
// Branching: fanOut, parallel, fan-in
// ---------------------------------------------------------------------------

/** At most this many branches: each is a tensor handle and a shape per call. */
const MAX_BRANCHES = positiveIntUpTo(4096);
const KindName = nonEmptyString('a non-empty name');

/**
 * Copy the input into `n` branches (stax's FanOut).
 *
 * @example
 * ```ts
 * import { dense, disposeTree, fanInSum, fanOut, parallel, prngKey, serial } from 'tsnn';
 *
 * const model = serial(fanOut(2), parallel(dense({ nf: 4 }), dense({ nf: 4 })), fanInSum);
 * console.log(fanOut(2).init(prngKey(0), [3]).outShape); // [ [ 3 ], [ 3 ] ]
 * const { params, outShape } = model.init(prngKey(0), [3]);
 * console.log(outShape); // [ 4 ]
 * disposeTree(params);
 * ```
 */
export const fanOut = (n: number): Layer<Children, Children> => {
  decodeArg('fanOut.n', MAX_BRANCHES, n);
  return {
    name: 'fanOut',
    init: (_key, inShape) => ({ params: {}, state: {}, outShape: Array.from({ length: n }, () => inShape as Shape) }),
    apply: (_params, state, x) => ({ y: Array.from({ length: n }, () => singleInput('fanOut', x)), state }),
  };
};

/**
 * Apply the i-th layer to the i-th branch (stax's parallel).
 *
 * @example
 * ```ts
 * import { conv2d, disposeTree, fanOut, identity, parallel, prngKey, serial } from 'tsnn';
 *
 * const { params, outShape } = serial(fanOut(2), parallel(identity, conv2d({ nf: 8 }))).init(prngKey(0), [6, 6, 3]);
 * console.log(outShape); // [ [ 6, 6, 3 ], [ 6, 6, 8 ] ]
 * disposeTree(params);
 * ```
 */
export const parallel = (...layers: AnyLayer[]): Layer<Children, Children> => {
  const keys = childKeys('parallel', layers);
  const branches = (s: FlowShape | Flow, what: string): void => {
    if (!Array.isArray(s) || (s.length > 0 && !(Array.isArray(s[0]) || s[0] instanceof tf.Tensor)) || s.length !== layers.length) {
      throw new ShapeError('parallel', [], `expected ${layers.length} input branches, got ${what}`);
    }
  };
  return {
    name: 'parallel',
    init(key, inShape) {
      branches(inShape, showFlowShape(inShape));
      const shapes = inShape as Shape[];
      const params: Record<string, Tree> = {}, state: Record<string, Tree> = {}, outShape: Shape[] = [];
      layers.forEach((l, i) => {
        const r = underChild(keys[i], () => l.init(foldIn(key, i), shapes[i]));
        params[keys[i]] = r.params;
        state[keys[i]] = r.state;
        outShape.push(r.outShape as Shape);
      });
      return { params, state, outShape };
    },
    apply: tidyApply((params, state, x, ctx) => {
      branches(x, x instanceof tf.Tensor ? 'one tensor' : `${(x as tf.Tensor[]).length} tensors`);
      const xs = x as tf.Tensor[];
      const newState: Record<string, Tree> = {}, ys: tf.Tensor[] = [];
      layers.forEach((l, i) => {
        const k = keys[i];
        const r = applyChild(l, i, k, params, state, xs[i], ctx);
        ys.push(singleInput(l.name, r.y));
        newState[k] = r.state;
      });
      return { y: ys, state: newState };
    }),
  };
};

const fanIn = (name: string, shapeOf: (shapes: Shape[]) => Shape, combine: (xs: tf.Tensor[]) => tf.Tensor) =>
  ({
    name,
    init(_key, inShape) {
      if (!(inShape.length > 0 && Array.isArray(inShape[0]))) {
        throw new ShapeError(name, [], `expected a list of branches, got ${showFlowShape(inShape)}`);
      }
      return { params: {}, state: {}, outShape: shapeOf(inShape as Shape[]) };
    },
    apply: tidyApply((_params, state, x) => {
      if (!Array.isArray(x)) throw new ShapeError(name, [], 'expected a list of branches, got one tensor');
      return { y: combine(x as tf.Tensor[]), state };
    }),
  }) satisfies Layer<Children, Children>;

const equalShapes = (owner: string, shapes: readonly Shape[], names: readonly string[]): Shape => {
  const bad = shapes.findIndex((s) => !sameShape(s, shapes[0]));
  if (bad >= 0) {
    throw new ShapeError(owner, [], `branch '${names[0]}' gives ${showShape(shapes[0])} but branch '${names[bad]}' gives ${showShape(shapes[bad])}`);
  }
  return shapes[0];
};

/**
 * Sum a list of branches of equal shape (stax's FanInSum).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { evalCtx, fanInSum, fanOut, identity, parallel, prngKey, serial } from 'tsnn';
 *
 * const twice = serial(fanOut(2), parallel(identity, identity), fanInSum);
 * const { params, state } = twice.init(prngKey(0), [2]);
 * const x = tf.tensor([[1, 2]]);
 * const { y } = twice.apply(params, state, x, evalCtx);
 * console.log((y as tf.Tensor).arraySync()); // [ [ 2, 4 ] ]
 * tf.dispose([x, y as tf.Tensor]);
 * ```
 */
export const fanInSum: Layer<Children, Children> = fanIn(
  'fanInSum',
  (s) => equalShapes('fanInSum', s, s.map((_, i) => String(i))),
  (xs) => tf.addN(xs),
);

/**
 * Concatenate a list of branches along the channel (last) axis (stax's FanInConcat).
 *
 * @example
 * ```ts
 * import { conv2d, disposeTree, fanInConcat, fanOut, identity, parallel, prngKey, serial } from 'tsnn';
 *
 * const { params, outShape } = serial(fanOut(2), parallel(identity, conv2d({ nf: 8 })), fanInConcat).init(prngKey(0), [6, 6, 3]);
 * console.log(outShape); // [ 6, 6, 11 ]
 * disposeTree(params);
 * ```
 */
export const fanInConcat: Layer<Children, Children> = fanIn(
  'fanInConcat',
  (s) => {
    const lead = s.map((x) => x.slice(0, -1));
    equalShapes('fanInConcat', lead, s.map((_, i) => String(i)));
    return [...s[0].slice(0, -1), s.reduce((n, x) => n + x[x.length - 1], 0)];
  },
  (xs) => tf.concat(xs, -1),
);

// ---------------------------------------------------------------------------
// add
// ---------------------------------------------------------------------------

/**
 * Apply each layer to the same input and sum the results:
 * `add(f, g)(x) = f(x) + g(x)`. The residual connection.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { add, dense, disposeTree, evalCtx, identity, prngKey, relu, serial } from 'tsnn';
 *
 * // A residual block: relu(x + dense(x)), the shortcut being the identity.
 * const block = serial(add(dense({ nf: 3 }), identity), relu);
 * const { params, state, outShape } = block.init(prngKey(0), [3]);
 * const x = tf.ones([2, 3]);
 * const { y } = block.apply(params, state, x, evalCtx);
 * console.log(outShape, (y as tf.Tensor).shape); // [ 3 ] [ 2, 3 ]
 * disposeTree({ params, x, y: y as tf.Tensor });
 * ```
 */
export const add = (...layers: AnyLayer[]): Layer<Children, Children> => {
  if (layers.length < 1) throw new ConfigError(['add: expected at least one layer']);
  const keys = childKeys('add', layers);
  return {
    name: 'add',
    init(key, inShape) {
      const params: Record<string, Tree> = {}, state: Record<string, Tree> = {}, shapes: Shape[] = [];
      layers.forEach((l, i) => {
        const r = underChild(keys[i], () => l.init(foldIn(key, i), inShape));
        params[keys[i]] = r.params;
        state[keys[i]] = r.state;
        if (r.outShape.length > 0 && Array.isArray(r.outShape[0])) {
          throw new ShapeError('add', [], `branch '${keys[i]}' gives several outputs ${showFlowShape(r.outShape)}`);
        }
        shapes.push(r.outShape as Shape);
      });
      return { params, state, outShape: equalShapes('add', shapes, keys) };
    },
    apply: tidyApply((params, state, x, ctx) => {
      const newState: Record<string, Tree> = {}, ys: tf.Tensor[] = [];
      layers.forEach((l, i) => {
        const k = keys[i];
        const r = applyChild(l, i, k, params, state, x, ctx);
        ys.push(singleInput(l.name, r.y));
        newState[k] = r.state;
      });
      const mismatch = ys.findIndex((y) => y.shape.join() !== ys[0].shape.join());
      if (mismatch >= 0) {
        throw new ShapeError(
          'add',
          [],
          `branch '${keys[0]}' gives [${ys[0].shape.join(', ')}] but branch '${keys[mismatch]}' gives [${ys[mismatch].shape.join(', ')}]`,
        );
      }
      return { y: ys.length === 1 ? ys[0] : tf.addN(ys), state: newState };
    }),
  };
};

/**
 * Set a layer's kind: its `name`, shown in summaries and error messages
 * (`resBlock 'blocks.2'`), keeping its behaviour and label. Compare
 * {@link withLabel}, which sets the key its parent stores it under.
 *
 * @example
 * ```ts
 * import { add, dense, identity, serial, withKind } from 'tsnn';
 *
 * const block = withKind('myBlock', serial(add(dense({ nf: 3 }), identity)));
 * console.log(block.name); // myBlock
 * ```
 */
export const withKind = <P extends Tree, S extends Tree>(name: string, layer: Layer<P, S>): Layer<P, S> => ({
  name: decodeArg('withKind.name', KindName, name),
  ...(layer.label === undefined ? {} : { label: layer.label }),
  init: layer.init,
  apply: layer.apply,
});
