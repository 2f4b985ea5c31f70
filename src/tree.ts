/**
 * Parameter records as pytrees: nested plain records whose leaves are tensors.
 * Paths are dotted (`blocks.2.convs.1.bn.gamma`), so a checkpoint or an error
 * tells a user exactly where a tensor lives.
 *
 * @module
 */
import * as tf from './tfjs/tf.ts';

/** @ignore tfjs-core's tensor, aliased so deno doc --lint does not flag the npm type as private (see src/layer.ts). */
type Tensor = tf.Tensor;

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** A tree of tensors: a tensor, or a record of trees. `{}` is the empty tree. */
export type Tree = Tensor | { readonly [key: string]: Tree };

/** A tree with every leaf replaced by a value of type `A`. */
export type TreeOf<A> = A | { readonly [key: string]: TreeOf<A> };

/** The empty tree, for layers without params or state. */
export type Empty = Record<string, never>;

/**
 * True for a tfjs tensor leaf.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 *
 * const x = tf.scalar(1);
 * console.log(isTensor(x), isTensor({ w: x })); // true false
 * x.dispose();
 * ```
 */
export const isTensor = (x: unknown): x is Tensor => x instanceof tf.Tensor;

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !isTensor(x) && !Array.isArray(x);

// ---------------------------------------------------------------------------
// Flatten / unflatten
// ---------------------------------------------------------------------------

/**
 * Leaves in a stable order (keys sorted), each with its dotted path.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree, flattenTree } from 'tsnn';
 *
 * const tree = { b: tf.scalar(1), a: { w: tf.scalar(2) } };
 * console.log(flattenTree(tree).map(([path, t]) => [path, t.dataSync()[0]])); // [ [ "a.w", 2 ], [ "b", 1 ] ]
 * disposeTree(tree);
 * ```
 */
export const flattenTree = (tree: Tree, prefix = ''): [string, Tensor][] => {
  const out: [string, Tensor][] = [];
  collect(tree, prefix, out);
  return out;
};

const collect = (tree: Tree, prefix: string, out: [string, Tensor][]): void => {
  if (isTensor(tree)) {
    out.push([prefix, tree]);
    return;
  }
  if (!isRecord(tree)) throw new TypeError(`tree '${prefix || '<root>'}': expected a tensor or record, got ${typeof tree}`);
  for (const k of sortedKeys(tree)) collect(tree[k] as Tree, prefix ? `${prefix}.${k}` : k, out);
};

/** A record's keys in flattening order. */
const sortedKeys = (r: object): string[] => {
  const keys = Object.keys(r);
  return keys.length > 1 ? keys.sort(compareKeys) : keys;
};

/** All decimal digits (an array-like index such as `'12'`); a plain loop, as it runs for every key comparison. */
const isIndex = (k: string): boolean => {
  if (k.length === 0) return false;
  for (let i = 0; i < k.length; i++) {
    const c = k.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
};

/** Numeric keys in numeric order, then the rest alphabetically. */
const compareKeys = (a: string, b: string): number => {
  const na = isIndex(a), nb = isIndex(b);
  if (na && nb) return Number(a) - Number(b);
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
};

/**
 * Visit every leaf, in no particular order: for bookkeeping that needs no
 * paths, so none are built. A malformed tree gets {@link flattenTree}'s error,
 * which names the path.
 */
const forEachLeaf = (root: Tree, f: (t: Tensor) => void): void => {
  const visit = (tree: Tree): void => {
    if (isTensor(tree)) return f(tree);
    if (!isRecord(tree)) flattenTree(root);
    for (const k in tree) visit((tree as Record<string, Tree>)[k]);
  };
  visit(root);
};

/**
 * Rebuild a tree from `[dottedPath, leaf]` pairs. The inverse of {@link flattenTree}.
 *
 * @example
 * ```ts
 * import { unflattenTree } from 'tsnn';
 *
 * console.log(unflattenTree([['a.w', 1], ['b', 2]])); // { a: { w: 1 }, b: 2 }
 * ```
 */
export const unflattenTree = <A>(pairs: readonly (readonly [string, A])[]): TreeOf<A> => {
  if (pairs.length === 1 && pairs[0][0] === '') return pairs[0][1];
  const root: Record<string, unknown> = {};
  for (const [path, leaf] of pairs) {
    const keys = path.split('.');
    let node = root;
    keys.slice(0, -1).forEach((k, i) => {
      const next = node[k];
      if (next === undefined) node[k] = {};
      else if (!isRecord(next)) throw new Error(`unflattenTree: path '${keys.slice(0, i + 1).join('.')}' is both a leaf and a record`);
      node = node[k] as Record<string, unknown>;
    });
    const last = keys[keys.length - 1];
    if (last in node) throw new Error(`unflattenTree: duplicate path '${path}'`);
    node[last] = leaf;
  }
  return root as TreeOf<A>;
};

/**
 * Leaves only, in {@link flattenTree}'s order.
 *
 * @example
 * ```ts
 * import { dense, disposeTree, prngKey } from 'tsnn';
 *
 * const { params } = dense({ nf: 2 }).init(prngKey(0), [3]);
 * console.log(leaves(params).length); // 2
 * disposeTree(params);
 * ```
 */
export const leaves = (tree: Tree): Tensor[] => flattenTree(tree).map(([, t]) => t);

// ---------------------------------------------------------------------------
// Maps
// ---------------------------------------------------------------------------

/**
 * Apply `f` to every leaf, keeping the structure. `f` gets the dotted path too.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree, mapTree } from 'tsnn';
 *
 * const params = { w: tf.ones([2]), b: tf.ones([1]) };
 * const zeros = mapTree(params, (t) => tf.zerosLike(t));
 * console.log(Array.from(zeros.w.dataSync())); // [ 0, 0 ]
 * disposeTree({ params, zeros });
 * ```
 */
export const mapTree = <T extends Tree>(tree: T, f: (leaf: Tensor, path: string) => Tensor, prefix = ''): T => {
  if (isTensor(tree)) return f(tree, prefix) as T;
  const out: Record<string, Tree> = {};
  for (const k of Object.keys(tree)) {
    out[k] = mapTree((tree as Record<string, Tree>)[k], f, prefix ? `${prefix}.${k}` : k);
  }
  return out as T;
};

/**
 * Combine trees of the same structure leaf by leaf.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree, zipTrees } from 'tsnn';
 *
 * const a = { w: tf.tensor([1, 2]) }, b = { w: tf.tensor([10, 20]) };
 * const sum = zipTrees([a, b], ([x, y]) => tf.add(x, y));
 * console.log(Array.from(sum.w.dataSync())); // [ 11, 22 ]
 * disposeTree({ a, b, sum });
 * ```
 */
export const zipTrees = <T extends Tree>(
  trees: readonly T[],
  f: (leaves: Tensor[], path: string) => Tensor,
): T => {
  // Walk the records side by side when their keys agree; trees that differ only in empty subtrees (which hold
  // no leaves) take the path-matching route. The check comes first so that `f` runs once per leaf either way.
  const aligned = (nodes: readonly Tree[]): boolean => {
    const [first] = nodes;
    if (isTensor(first)) return nodes.every(isTensor);
    if (!isRecord(first)) return false;
    const keys = Object.keys(first);
    return nodes.every((n) => isRecord(n) && sameKeys(Object.keys(n), keys)) &&
      keys.every((k) => aligned(nodes.map((n) => (n as Record<string, Tree>)[k])));
  };
  const zip = (nodes: readonly Tree[], path: string): Tree => {
    if (isTensor(nodes[0])) return f(nodes as Tensor[], path);
    const out: Record<string, Tree> = {};
    for (const k of sortedKeys(nodes[0])) out[k] = zip(nodes.map((n) => (n as Record<string, Tree>)[k]), path ? `${path}.${k}` : k);
    return out;
  };
  if (aligned(trees)) return zip(trees, '') as T;
  const flat = trees.map((t) => flattenTree(t));
  const paths = flat[0].map(([p]) => p);
  flat.forEach((pairs, i) => {
    const other = pairs.map(([p]) => p);
    if (other.length !== paths.length || other.some((p, j) => p !== paths[j])) {
      throw new Error(`zipTrees: tree ${i} has paths [${other.join(', ')}], expected [${paths.join(', ')}]`);
    }
  });
  return unflattenTree(paths.map((p, j) => [p, f(flat.map((pairs) => pairs[j][1]), p)] as const)) as T;
};

const sameKeys = (keys: readonly string[], others: readonly string[]): boolean => keys.length === others.length && keys.every((k) => others.includes(k));

/**
 * Shapes of every leaf, same structure.
 *
 * @example
 * ```ts
 * import { conv2d, disposeTree, prngKey, treeShapes } from 'tsnn';
 *
 * const { params } = conv2d({ nf: 16 }).init(prngKey(0), [28, 28, 1]);
 * console.log(treeShapes(params)); // { bias: [ 16 ], weight: [ 3, 3, 1, 16 ] }
 * disposeTree(params);
 * ```
 */
export const treeShapes = (tree: Tree): TreeOf<number[]> => unflattenTree(flattenTree(tree).map(([p, t]) => [p, t.shape] as const));

// ---------------------------------------------------------------------------
// Bookkeeping
// ---------------------------------------------------------------------------

/**
 * Number of scalars in the tree.
 *
 * @example
 * ```ts
 * import { countParams, dense, disposeTree, prngKey } from 'tsnn';
 *
 * const { params } = dense({ nf: 10 }).init(prngKey(0), [784]);
 * console.log(countParams(params)); // 7850
 * disposeTree(params);
 * ```
 */
export const countParams = (tree: Tree): number => {
  let n = 0;
  forEachLeaf(tree, (t) => void (n += t.size));
  return n;
};

/**
 * Dispose every leaf. Safe on trees that share no tensors with live trees.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree } from 'tsnn';
 *
 * const params = { w: tf.ones([2]), b: tf.ones([1]) };
 * disposeTree(params);
 * console.log(params.w.isDisposed, params.b.isDisposed); // true true
 * ```
 */
export const disposeTree = (tree: Tree): void => {
  forEachLeaf(tree, (t) => t.isDisposed || t.dispose());
};

/**
 * Keep every leaf alive past the enclosing `tf.tidy`.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree, mapTree } from 'tsnn';
 *
 * const p = { w: tf.ones([2]) };
 * let doubled = p;
 * // tidy disposes what its callback makes unless it is kept (a returned tree is not looked into).
 * tf.tidy(() => {
 *   doubled = keepTree(mapTree(p, (t) => tf.mul(t, 2)));
 * });
 * console.log(Array.from(doubled.w.dataSync())); // [ 2, 2 ]
 * disposeTree({ p, doubled });
 * ```
 */
export const keepTree = <T extends Tree>(tree: T): T => {
  forEachLeaf(tree, (t) => void tf.keep(t));
  return tree;
};

/**
 * A deep copy with fresh tensors (`tf.clone` per leaf).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { cloneTree, disposeTree } from 'tsnn';
 *
 * const params = { w: tf.ones([2]) };
 * const copy = cloneTree(params);
 * params.w.dispose();
 * console.log(Array.from(copy.w.dataSync())); // [ 1, 1 ]
 * disposeTree(copy);
 * ```
 */
export const cloneTree = <T extends Tree>(tree: T): T => mapTree(tree, (t) => tf.clone(t));

/**
 * Exact equality of two trees: same paths, shapes, dtypes and values.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { cloneTree, disposeTree, treesEqual } from 'tsnn';
 *
 * const p1 = { w: tf.tensor([1, 2]) };
 * const p2 = cloneTree(p1);
 * const p3 = { w: tf.tensor([1, 3]) };
 * console.log(treesEqual(p1, p2), treesEqual(p1, p3)); // true false
 * disposeTree({ p1, p2, p3 });
 * ```
 */
export const treesEqual = (a: Tree, b: Tree): boolean => {
  const fa = flattenTree(a), fb = flattenTree(b);
  if (fa.length !== fb.length) return false;
  return fa.every(([pa, ta], i) => {
    const [pb, tb] = fb[i];
    if (pa !== pb || ta.dtype !== tb.dtype || ta.shape.join() !== tb.shape.join()) return false;
    const va = ta.dataSync(), vb = tb.dataSync();
    for (let j = 0; j < va.length; j++) if (!Object.is(va[j], vb[j])) return false;
    return true;
  });
};

/**
 * Dispose the leaves of `old` that `next` does not reuse: the step of a loop
 * that replaces a state tree by its successor.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { disposeTree } from 'tsnn';
 *
 * const kept = tf.ones([2]);
 * const state = { mean: tf.zeros([2]), var: kept };
 * const next = { mean: tf.ones([2]), var: kept }; // var carried over unchanged
 * disposeReplaced(state, next);
 * console.log(state.mean.isDisposed, kept.isDisposed); // true false
 * disposeTree(next);
 * ```
 */
export const disposeReplaced = (old: Tree, next: Tree): void => {
  const kept = new Set<Tensor>();
  forEachLeaf(next, (t) => void kept.add(t));
  forEachLeaf(old, (t) => kept.has(t) || t.isDisposed || t.dispose());
};
