/**
 * Interpretation against fastai's ClassificationInterpretation, transcribed:
 * `cm = ((d == x[:, None]) & (t == x[:, None, None])).sum(2)` (rows actual,
 * columns predicted); `most_confused`: off-diagonal entries ≥ min_val as
 * (actual, predicted, count), sorted by count descending (a stable sort);
 * `top_losses`: the losses' topk.
 */
import './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ConfigError, confusionMatrix, confusionMatrixSvg, mostConfused, topLosses } from '../mod.ts';

const arbCase = fc.integer({ min: 2, max: 5 }).chain((k) =>
  fc.array(fc.tuple(fc.integer({ min: 0, max: k - 1 }), fc.array(fc.float({ min: Math.fround(0.01), max: 1, noNaN: true }), { minLength: k, maxLength: k })), {
    minLength: 1,
    maxLength: 40,
  }).map((rows) => {
    const probs = new Float32Array(rows.flatMap(([, p]) => {
      const s = p.reduce((a, b) => a + b);
      return p.map((v) => v / s);
    }));
    const classes = Int32Array.from(rows, (_, i) => {
      const row = Array.from(probs.subarray(i * k, i * k + k));
      return row.indexOf(Math.max(...row));
    });
    return { p: { probs, classes, nClasses: k }, actual: rows.map(([a]) => a) };
  })
);

describe('interpretation, as fastai defines it', () => {
  test('the confusion matrix counts (actual, predicted) pairs, rows actual', () =>
    fc.assert(fc.property(arbCase, ({ p, actual }) => {
      const k = p.nClasses, cm = confusionMatrix(p, actual);
      for (let x = 0; x < k; x++) {
        for (let y = 0; y < k; y++) {
          const ref = actual.filter((t, i) => t === x && p.classes[i] === y).length; // (d == y) & (t == x), summed
          assert.equal(cm[x][y], ref);
        }
      }
    })));

  test('mostConfused is the off-diagonal entries >= minVal, by count descending, ties in row-major order', () =>
    fc.assert(fc.property(arbCase, fc.integer({ min: 1, max: 3 }), ({ p, actual }, minVal) => {
      const cm = confusionMatrix(p, actual), names = Array.from({ length: p.nClasses }, (_, i) => `c${i}`);
      const ref: [string, string, number][] = [];
      for (let i = 0; i < cm.length; i++) for (let j = 0; j < cm.length; j++) if (i !== j && cm[i][j] >= minVal) ref.push([names[i], names[j], cm[i][j]]);
      ref.sort((a, b) => b[2] - a[2]); // JS sort is stable, as Python's sorted
      assert.deepEqual(mostConfused(cm, names, minVal), ref);
    })));

  test('topLosses: -log p(actual), largest first, with the predicted class and its probability', () =>
    fc.assert(fc.property(arbCase, ({ p, actual }) => {
      const k = p.nClasses, top = topLosses(p, actual, 3);
      const losses = actual.map((a, i) => -Math.log(p.probs[i * k + a]));
      const order = losses.map((l, i) => [l, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, 3);
      assert.deepEqual(top.map((t) => t.index), order.map(([, i]) => i));
      top.forEach((t) => {
        assert.equal(t.loss, losses[t.index]);
        assert.equal(t.probability, p.probs[t.index * k + p.classes[t.index]]);
        assert.equal(t.predicted, p.classes[t.index]);
      });
    })));

  test('labels out of range or of the wrong count are refused by name; the SVG names its axes and classes, escaped', () => {
    const p = { probs: new Float32Array([0.9, 0.1]), classes: Int32Array.from([0]), nClasses: 2 };
    assert.throws(
      () => confusionMatrix(p, [2]),
      (e: unknown) => e instanceof ConfigError && /confusionMatrix\.actual\[0\]: expected a class in 0\.\.1, got 2/.test(e.message),
    );
    assert.throws(() => topLosses(p, [0, 1]), /topLosses\.actual: expected 1 labels, got 2/);
    const svg = confusionMatrixSvg([[3, 1], [0, 4]], ['T-shirt/top', 'a<b']);
    assert.match(svg, />Actual</);
    assert.match(svg, />Predicted</);
    assert.match(svg, />T-shirt\/top</);
    assert.match(svg, />a&lt;b</);
  });
});

describe('plots', () => {
  test("recorder smooths the loss as fastai's AvgSmoothLoss (β 0.98, debiased); lossPlotSvg labels its axes and ticks", async () => {
    const { recorder, lossPlotSvg, fit, adamW, disposeTrainState } = await import('../mod.ts');
    const { toyData, toyModel } = await import('./fixtures/toy.ts');
    const rec = recorder();
    const r = await fit(toyModel(), toyData(32, 8), { epochs: 2, opt: adamW(1e-2), observers: [rec] });
    let avg = 0;
    rec.losses.forEach((l, i) => {
      avg = 0.98 * avg + 0.02 * l;
      assert.ok(Math.abs(rec.smoothLosses[i] - avg / (1 - 0.98 ** (i + 1))) < 1e-12);
    });
    assert.deepEqual(rec.epochEnds, [4, 8]);
    assert.deepEqual(rec.epochs.map((e) => e.validLoss), r.history.map((e) => e.validLoss));
    const svg = lossPlotSvg(rec);
    for (const text of ['>batches processed<', '>loss<', '>train<', '>valid<', '>0<', '>8<']) assert.ok(svg.includes(text), text);
    assert.equal(svg.match(/<circle/g)?.length, 2, 'one validation point per epoch');
    disposeTrainState(r.trainState);
  });

  test("topLossesSvg titles each image fastai's way and draws its pixels", async () => {
    const { topLossesSvg } = await import('../mod.ts');
    const x = Uint8Array.from({ length: 2 * 3 * 3 }, (_, i) => i * 10);
    const svg = topLossesSvg({ x, shape: [3, 3, 1] }, [{ index: 1, loss: 1.234, predicted: 1, actual: 0, probability: 0.71 }], ['Coat', 'Shirt']);
    assert.ok(svg.includes('>Shirt/Coat / 1.23 / 0.71<'));
    assert.ok(svg.includes('>Prediction/Actual/Loss/Probability<'));
    assert.equal(svg.match(/<rect x=/g)?.length, 9);
    assert.ok(svg.includes('fill="rgb(90,90,90)"'), "the second image's first pixel (value 90)");
  });
});
