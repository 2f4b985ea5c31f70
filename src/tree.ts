/**
 * Parameter records as pytrees: nested plain records whose leaves are tensors.
 * Paths are dotted (`blocks.2.convs.1.bn.gamma`), so a checkpoint or an error
 * tells a user exactly where a tensor lives.
 *
 * @module
 */
import * as tf from './tfjs/tf.ts';

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** A tree of tensors: a tensor, or a record of trees. `{}` is the empty tree. */
export type Tree = tf.Tensor | { readonly [key: string]: Tree };

/** A tree with every leaf replaced by a value of type `A`. */
export type TreeOf<A> = A | { readonly [key: string]: TreeOf<A> };

/** The empty tree, for layers without params or state. */
export type Empty = Record<string, never>;

/**
 * True for a tfjs tensor leaf.
 *
 * @example
 * isTensor(tf.scalar(1)) // true
 */
export const isTensor = (x: unknown): x is tf.Tensor => x instanceof tf.Tensor;

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !isTensor(x) && !Array.isArray(x);

// ---------------------------------------------------------------------------
// Flatten / unflatten
// ---------------------------------------------------------------------------

/**
 * Leaves in a stable order (keys sorted), each with its dotted path.
 *
 * @example
 * flattenTree({ b: tf.scalar(1), a: { w: tf.scalar(2) } }) // [['a.w', 2], ['b', 1]]
 */
export const flattenTree = (tree: Tree, prefix = ''): [string, tf.Tensor][] => {
  const out: [string, tf.Tensor][] = [];
  collect(tree, prefix, out);
  return out;
};

const collect = (tree: Tree, prefix: string, out: [string, tf.Tensor][]): void => {
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
const forEachLeaf = (root: Tree, f: (t: tf.Tensor) => void): void => {
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
 * unflattenTree([['a.w', w], ['b', b]]) // { a: { w }, b }
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
 * leaves(params).length // number of tensors
 */
export const leaves = (tree: Tree): tf.Tensor[] => flattenTree(tree).map(([, t]) => t);

// ---------------------------------------------------------------------------
// Maps
// ---------------------------------------------------------------------------

/**
 * Apply `f` to every leaf, keeping the structure. `f` gets the dotted path too.
 *
 * @example
 * const zeros = mapTree(params, (t) => tf.zerosLike(t));
 */
export const mapTree = <T extends Tree>(tree: T, f: (leaf: tf.Tensor, path: string) => tf.Tensor, prefix = ''): T => {
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
 * const sum = zipTrees([a, b], ([x, y]) => tf.add(x, y));
 */
export const zipTrees = <T extends Tree>(
  trees: readonly T[],
  f: (leaves: tf.Tensor[], path: string) => tf.Tensor,
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
    if (isTensor(nodes[0])) return f(nodes as tf.Tensor[], path);
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
 * treeShapes(params) // { conv: { weight: [3, 3, 1, 16] }, ... }
 */
export const treeShapes = (tree: Tree): TreeOf<number[]> => unflattenTree(flattenTree(tree).map(([p, t]) => [p, t.shape] as const));

// ---------------------------------------------------------------------------
// Bookkeeping
// ---------------------------------------------------------------------------

/**
 * Number of scalars in the tree.
 *
 * @example
 * countParams(params) // 1_234_567
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
 * disposeTree(oldParams);
 */
export const disposeTree = (tree: Tree): void => {
  forEachLeaf(tree, (t) => t.isDisposed || t.dispose());
};

/**
 * Keep every leaf alive past the enclosing `tf.tidy`.
 *
 * @example
 * tf.tidy(() => keepTree(mapTree(p, (t) => tf.mul(t, 2))))
 */
export const keepTree = <T extends Tree>(tree: T): T => {
  forEachLeaf(tree, (t) => void tf.keep(t));
  return tree;
};

/**
 * A deep copy with fresh tensors (`tf.clone` per leaf).
 *
 * @example
 * const copy = cloneTree(params);
 */
export const cloneTree = <T extends Tree>(tree: T): T => mapTree(tree, (t) => tf.clone(t));

/**
 * Exact equality of two trees: same paths, shapes, dtypes and values.
 *
 * @example
 * treesEqual(p1, p2) // true
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
 * disposeReplaced(state, newState); state = newState;
 */
export const disposeReplaced = (old: Tree, next: Tree): void => {
  const kept = new Set<tf.Tensor>();
  forEachLeaf(next, (t) => void kept.add(t));
  forEachLeaf(old, (t) => kept.has(t) || t.isDisposed || t.dispose());
};
