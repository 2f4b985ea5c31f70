import { tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { foldIn, isKey, normal, permutation, prngKey, randomBits, split, threefry2x32, uniform } from '../src/random.ts';

describe('random', () => {
  test('threefry2x32 matches the Random123 known-answer vectors', () => {
    assert.deepEqual(threefry2x32(0, 0, 0, 0), [0x6b200159, 0x99ba4efe]);
    assert.deepEqual(threefry2x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff), [0x1cb996fc, 0xbb002be7]);
    assert.deepEqual(threefry2x32(0x13198a2e, 0x03707344, 0x243f6a88, 0x85a308d3), [0xc4923a9c, 0x483df7a0]);
  });

  test('prngKey is deterministic and distinguishes seeds, negative ones too', () => {
    fc.assert(fc.property(fc.maxSafeInteger(), fc.maxSafeInteger(), (a, b) => {
      assert.ok(isKey(prngKey(a)));
      assert.deepEqual(prngKey(a), prngKey(a));
      return a === b || JSON.stringify(prngKey(a)) !== JSON.stringify(prngKey(b));
    }));
    assert.throws(() => prngKey(1.5), /prngKey.seed: expected a safe integer, got 1.5/);
  });

  test('split gives distinct keys, the same ones every time', () => {
    const keys = split(prngKey(42), 64);
    assert.equal(new Set(keys.map((k) => k.join())).size, 64);
    assert.deepEqual(split(prngKey(42), 64), keys);
    assert.notDeepEqual(foldIn(prngKey(42), 0), foldIn(prngKey(42), 1));
    assert.throws(() => split(prngKey(0), 0), /split.n: expected positive integer, got 0/);
  });

  test('uniform lies in [lo, hi) with the right mean; normal has mean 0, std 1', () => {
    const u = uniform(prngKey(1), 20000, -2, 3);
    assert.ok(u.every((v) => v >= -2 && v < 3));
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    assert.ok(Math.abs(mean(u) - 0.5) < 0.05, `uniform mean ${mean(u)}`);
    const z = normal(prngKey(2), 20001);
    const m = mean(z), sd = Math.sqrt(z.reduce((s, v) => s + (v - m) ** 2, 0) / z.length);
    assert.ok(Math.abs(m) < 0.03 && Math.abs(sd - 1) < 0.03, `normal mean ${m} std ${sd}`);
    assert.ok(z.every(Number.isFinite));
  });

  test('randomBits of a prefix agree with a longer draw (counter-based)', () => {
    assert.deepEqual(randomBits(prngKey(3), 5), randomBits(prngKey(3), 9).slice(0, 5));
  });

  test('permutation is a permutation and depends on the key', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 200 }), fc.nat(), (n, s) => {
      const p = Array.from(permutation(prngKey(s), n));
      return [...p].sort((a, b) => a - b).every((v, i) => v === i);
    }));
    assert.notDeepEqual(permutation(prngKey(0), 50), permutation(prngKey(1), 50));
  });

  test('draws never touch the tensor engine', () => {
    const before = tf.memory().numTensors;
    normal(prngKey(0), 100);
    assert.equal(tf.memory().numTensors, before);
  });
});
