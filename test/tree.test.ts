import { assertNoLeak, tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  cloneTree,
  countParams,
  disposeReplaced,
  disposeTree,
  flattenTree,
  leaves,
  mapTree,
  type Tree,
  treesEqual,
  treeShapes,
  unflattenTree,
  zipTrees,
} from '../src/tree.ts';

const arbTree = (depth: number): fc.Arbitrary<Tree> =>
  depth === 0
    ? fc.array(fc.float({ noNaN: true, min: -10, max: 10 }), { minLength: 1, maxLength: 4 }).map((v) => tf.tensor(v))
    : fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9]{0,3}$/), arbTree(depth - 1), { minKeys: 1, maxKeys: 3 });

describe('tree', () => {
  test('unflatten inverts flatten, with dotted paths', () => {
    fc.assert(
      fc.property(arbTree(3), (t) => {
        const again = unflattenTree(flattenTree(t)) as Tree;
        const ok = treesEqual(t, again) && flattenTree(again).every(([p], i) => p === flattenTree(t)[i][0]);
        disposeTree(t);
        return ok;
      }),
      { numRuns: 50 },
    );
    const t = { blocks: { 2: { convs: { 1: { bn: { gamma: tf.ones([2]) } } } } } };
    assert.deepEqual(flattenTree(t).map(([p]) => p), ['blocks.2.convs.1.bn.gamma']);
    disposeTree(t);
  });

  test('flatten orders numeric keys numerically, then names', () => {
    const t = { 10: tf.scalar(1), 2: tf.scalar(2), b: tf.scalar(3), a: tf.scalar(4) };
    assert.deepEqual(flattenTree(t).map(([p]) => p), ['2', '10', 'a', 'b']);
    disposeTree(t);
  });

  test('map, zip, shapes and count', () => {
    const a = { w: tf.tensor([1, 2, 3]), sub: { b: tf.tensor([[1, 2]]) } };
    const doubled = mapTree(a, (x) => tf.mul(x, 2));
    assert.deepEqual(Array.from(doubled.w.dataSync()), [2, 4, 6]);
    const sum = zipTrees([a, doubled], ([x, y]) => tf.add(x, y));
    assert.deepEqual(Array.from((sum as typeof a).sub.b.dataSync()), [3, 6]);
    assert.deepEqual(treeShapes(a), { w: [3], sub: { b: [1, 2] } });
    assert.equal(countParams(a), 5);
    assert.throws(() => zipTrees([a, { w: a.w }], ([x]) => x), /tree 1 has paths \[w\], expected \[sub.b, w\]/);
    [a, doubled, sum].forEach(disposeTree);
  });

  test('zip matches leaves by path, ignoring empty subtrees, and calls f once per leaf', () => {
    const w = tf.scalar(1), b = tf.scalar(2);
    const seen: string[] = [];
    const z = zipTrees([{ act: {}, lin: { w, b } }, { lin: { b, w } }] as never[], ([x, y], path) => {
      seen.push(path);
      return tf.add(x, y);
    }) as { lin: { w: tf.Tensor; b: tf.Tensor } };
    assert.deepEqual(seen, ['lin.b', 'lin.w']);
    assert.deepEqual([z.lin.w.dataSync()[0], z.lin.b.dataSync()[0]], [2, 4]);
    [z, { w, b }].forEach(disposeTree);
  });

  test('dispose and disposeReplaced free exactly what they should', () => {
    assertNoLeak(() => {
      const old = { keep: tf.scalar(1), drop: tf.scalar(2) };
      const next = { keep: old.keep, fresh: tf.scalar(3) };
      disposeReplaced(old, next);
      assert.ok(!old.keep.isDisposed && old.drop.isDisposed);
      disposeTree(next);
      const orig = { x: tf.ones([2]) };
      const c = cloneTree(orig as Tree);
      assert.ok(leaves(c)[0] !== orig.x && treesEqual(c, orig));
      disposeTree(c);
      assert.ok(leaves(c).every((t) => t.isDisposed) && !orig.x.isDisposed);
      disposeTree(orig);
    }, 'tree bookkeeping');
  });

  test('unflatten rejects clashing paths', () => {
    assert.throws(() => unflattenTree([['a', 1], ['a.b', 2]]), /path 'a' is both a leaf and a record/);
    assert.throws(() => unflattenTree([['a', 1], ['a', 2]]), /duplicate path 'a'/);
  });
});
