/**
 * Augmentation and test-time augmentation: `augmentImages` against a
 * shift-and-mirror written out by hand, and `tta` against fastai's definition,
 * `(1 - beta) · mean(augmented passes) + beta · plain`.
 */
import { tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { adamW, augmentImages, conv2d, disposeTrainState, drawAugmentation, foldIn, initTrainState, predict, prngKey, resNet, tta } from '../mod.ts';

const [h, w, c] = [5, 4, 2];
const image = Uint8Array.from({ length: h * w * c }, (_, i) => 1 + i);
/** Pixel (i, j, k) of `image` mirrored (when `mirror`), then seen through a crop window moved by (dy, dx), zero outside: the definition. */
const expected = (dy: number, dx: number, mirror: boolean) =>
  Uint8Array.from({ length: h * w * c }, (_, at) => {
    const k = at % c, j = Math.floor(at / c) % w, i = Math.floor(at / (c * w));
    const si = i + dy, sj = j + dx;
    if (si < 0 || si >= h || sj < 0 || sj >= w) return 0;
    return image[(si * w + (mirror ? w - 1 - sj : sj)) * c + k];
  });

describe('augmentImages', () => {
  test('shifts, zero-pads and mirrors each example as its augmentation says, keeping the array type', () => {
    for (const dy of [-2, 0, 1]) {
      for (const dx of [-1, 0, 2]) {
        for (const mirror of [false, true]) {
          const out = augmentImages({ x: image, shape: [h, w, c] }, () => ({ dy, dx, mirror }));
          assert.ok(out instanceof Uint8Array);
          assert.deepEqual(out, expected(dy, dx, mirror), `dy ${dy}, dx ${dx}, mirror ${mirror}`);
        }
      }
    }
    const two = new Float32Array([...image, ...image]);
    const out = augmentImages({ x: two, shape: [h, w, c] }, (e) => ({ dy: 0, dx: 0, mirror: e === 1 }));
    assert.ok(out instanceof Float32Array);
    assert.deepEqual(Array.from(out.subarray(0, image.length)), Array.from(image));
    assert.deepEqual(Array.from(out.subarray(image.length)), Array.from(expected(0, 0, true)));
  });

  test('drawAugmentation stays in -pad..pad, mirrors about half the time, and flip: false never mirrors', () => {
    let mirrors = 0;
    const seen = new Set<string>();
    for (let s = 0; s < 400; s++) {
      const a = drawAugmentation(prngKey(s), 2, true);
      assert.ok(Math.abs(a.dy) <= 2 && Math.abs(a.dx) <= 2 && Number.isInteger(a.dy) && Number.isInteger(a.dx));
      seen.add(`${a.dy},${a.dx}`);
      mirrors += a.mirror ? 1 : 0;
      assert.equal(drawAugmentation(prngKey(s), 2, false).mirror, false);
    }
    assert.equal(seen.size, 25, 'every shift occurs');
    assert.ok(mirrors > 150 && mirrors < 250, `${mirrors} mirrors of 400`);
  });
});

describe('tta', () => {
  const opts = { nIn: 1, nClasses: 10, channels: [4, 8] };
  const n = 12;
  const x = Uint8Array.from({ length: n * 28 * 28 }, (_, i) => (i * 37 + (i >> 9)) % 256);
  const images = { x, shape: [28, 28, 1] };
  const normalize = { mean: [0.3], std: [0.4] };
  const mirrored = augmentImages(images, () => ({ dy: 0, dx: 0, mirror: true }));

  test('flip only, one pass, beta 0: each row is the plain or the mirrored prediction, and both occur', async () => {
    const model = resNet(opts), ts = initTrainState(model, adamW(1e-3), prngKey(1), [28, 28, 1]);
    const plain = await predict(model, ts, images, { normalize });
    const flipped = await predict(model, ts, { x: mirrored, shape: [28, 28, 1] }, { normalize });
    const r = await tta(model, ts, images, { normalize, flip: true, n: 1, beta: 0, key: prngKey(7) });
    const close = (a: Float32Array, b: Float32Array, row: number) => a.subarray(row * 10, row * 10 + 10).every((v, j) => Math.abs(v - b[row * 10 + j]) < 1e-6);
    let kinds = [0, 0];
    for (let row = 0; row < n; row++) {
      const isPlain = close(r.probs, plain.probs, row), isFlipped = close(r.probs, flipped.probs, row);
      assert.ok(isPlain || isFlipped, `row ${row} is neither the plain nor the mirrored prediction`);
      kinds = [kinds[0] + (isPlain ? 1 : 0), kinds[1] + (isFlipped ? 1 : 0)];
    }
    assert.ok(kinds[0] > 0 && kinds[1] > 0, `plain ${kinds[0]}, mirrored ${kinds[1]} of ${n}`);
    disposeTrainState(ts);
  });

  test('blends (1 - beta) of the augmented mean with beta of the plain prediction; beta 1 is predict', async () => {
    const model = resNet(opts), ts = initTrainState(model, adamW(1e-3), prngKey(2), [28, 28, 1]);
    const o = { normalize, padCrop: 2, flip: true, n: 3, key: prngKey(3) };
    const plain = await predict(model, ts, images, { normalize });
    const aug = await tta(model, ts, images, { ...o, beta: 0 });
    const blend = await tta(model, ts, images, { ...o, beta: 0.25 });
    blend.probs.forEach((p, i) => assert.ok(Math.abs(p - (0.75 * aug.probs[i] + 0.25 * plain.probs[i])) < 1e-6, `value ${i}`));
    assert.deepEqual((await tta(model, ts, images, { ...o, beta: 1 })).probs, plain.probs);
    for (let row = 0; row < n; row++) {
      const p = Array.from(blend.probs.subarray(row * 10, row * 10 + 10));
      assert.equal(blend.classes[row], p.indexOf(Math.max(...p)));
      assert.ok(Math.abs(p.reduce((a, b) => a + b) - 1) < 1e-5);
    }
    // The same key gives the same passes; another key, others.
    assert.deepEqual((await tta(model, ts, images, { ...o, beta: 0 })).probs, aug.probs);
    assert.notDeepEqual((await tta(model, ts, images, { ...o, beta: 0, key: prngKey(4) })).probs, aug.probs);
    disposeTrainState(ts);
  });

  test('the augmented part is the mean of n passes, pass p drawing example e from foldIn(foldIn(key, p), e)', async () => {
    const model = resNet(opts), ts = initTrainState(model, adamW(1e-3), prngKey(5), [28, 28, 1]);
    const key = prngKey(9), passes = 3;
    const mean = new Float32Array(n * 10);
    for (let p = 0; p < passes; p++) {
      const xp = augmentImages(images, (e) => drawAugmentation(foldIn(foldIn(key, p), e), 1, true));
      const { probs } = await predict(model, ts, { x: xp, shape: [28, 28, 1] }, { normalize });
      probs.forEach((v, i) => (mean[i] += v / passes));
    }
    const r = await tta(model, ts, images, { normalize, padCrop: 1, flip: true, n: passes, beta: 0, key });
    r.probs.forEach((v, i) => assert.ok(Math.abs(v - mean[i]) < 1e-6, `value ${i}: ${v}, the passes' mean ${mean[i]}`));
    disposeTrainState(ts);
  });

  test('leaves no tensor behind, and refuses bad options by name', async () => {
    const model = resNet(opts), ts = initTrainState(model, adamW(1e-3), prngKey(2), [28, 28, 1]);
    const before = tf.memory().numTensors;
    await tta(model, ts, images, { normalize, padCrop: 1, n: 2, batchSize: 5 });
    assert.equal(tf.memory().numTensors, before, 'tta leaked');
    await assert.rejects(() => tta(model, ts, { x: new Float32Array(8), shape: [8] }), /tta\.images\.shape: expected images \[h, w, c\], got \[8\]/);
    await assert.rejects(() => tta(model, ts, images, { flip: false }), /tta: expected an augmentation \(padCrop > 0 or flip\), got neither/);
    await assert.rejects(() => tta(model, ts, images, { n: 0 }), /tta\.n: expected/);
    await assert.rejects(() => tta(model, ts, images, { beta: 1.5 }), /tta\.beta: expected/);
    await assert.rejects(() => tta(model, ts, images, { padCrop: -1 }), /tta\.padCrop: expected/);
    await assert.rejects(() => tta(model, ts, images, { normalize: { mean: [0, 0], std: [1, 1] } }), /tta\.normalize: expected 1 means/);
    await assert.rejects(() => tta(model, ts, images, { padcrop: 1 } as never), /tta\.padcrop: unknown option, got 1; did you mean padCrop\?/);
    assert.equal(tf.memory().numTensors, before, 'a refused tta leaked');
    disposeTrainState(ts);
    // A model that fails inside predict's forward pass (its output is not [batch, classes]) leaks nothing either.
    const wrong = conv2d({ nf: 2, ks: 3 }), wts = initTrainState(wrong, adamW(1e-3), prngKey(3), [28, 28, 1]);
    const held = tf.memory().numTensors;
    await assert.rejects(() => tta(wrong, wts, images, { n: 1 }), /predict: expected the model to give \[batch, classes\], got \[12, 28, 28, 2\]/);
    assert.equal(tf.memory().numTensors, held, 'a tta whose forward pass failed leaked');
    disposeTrainState(wts);
  });
});
