import { assertClose, tf, withTempDir } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  adamW,
  cloneTree,
  disposeTrainState,
  initTrainState,
  lrFind,
  lrFindSvg,
  minimumSuggestion,
  prngKey,
  steepSuggestion,
  treesEqual,
  valleySuggestion,
} from '../mod.ts';
import { toyData, toyModel } from './fixtures/toy.ts';

describe('lrFind', () => {
  test('suggestions follow fastai on a known curve', () => {
    const lrs = Array.from({ length: 10 }, (_, i) => 10 ** (i - 5));
    const losses = [2.0, 1.9, 1.7, 1.2, 0.8, 0.6, 0.55, 0.7, 1.5, 3.0];
    // Longest decreasing subsequence ends at index 6 with length 7, so fastai's
    // max_start = 6 - 7 = -1; sections = 7/3; idx = -1 + floor(2.33) + floor(1.17) = 2.
    assert.equal(valleySuggestion(lrs, losses), lrs[2]);
    // Steepest fall per log lr: 1.7 -> 1.2 (-0.5) starts at index 2.
    assert.equal(steepSuggestion(lrs, losses), lrs[2]);
    assertClose([minimumSuggestion(lrs, losses)], [lrs[6] / 10], 1e-20);
  });

  test('sweeps 1e-7 to 10 exponentially, stops on divergence, leaves the state untouched, plots', async () => {
    const model = toyModel();
    const ts = initTrainState(model, adamW(1e-3), prngKey(0), [8, 8, 1]);
    const copy = { params: cloneTree(ts.params), state: cloneTree(ts.state) };
    await withTempDir('lr', async (dir) => {
      const plotPath = path.join(dir, 'lr_find.svg');
      const before = tf.memory().numTensors;
      const r = await lrFind(model, toyData().train, { from: ts });
      assert.equal(tf.memory().numTensors, before, 'lrFind leaked tensors');
      assert.ok(treesEqual(ts.params, copy.params) && treesEqual(ts.state, copy.state), 'lrFind changed the original state');
      assertClose([r.lrs[0], r.lrs[1] / r.lrs[0]], [1e-7, 10 ** (8 / 100)], 1e-9);
      assert.ok(r.lrs.length <= 100);
      const min = Math.min(...r.losses);
      const last = r.losses[r.losses.length - 1];
      assert.ok(r.lrs.length === 100 || !(last <= 4 * min), 'stopped early without diverging');
      for (const s of [r.valley, r.steep, r.minimum]) assert.ok(s > 1e-7 && s < 10, `suggestion ${s}`);
      fs.writeFileSync(plotPath, lrFindSvg(r));
      const svg = fs.readFileSync(plotPath, 'utf8');
      assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      assert.match(svg, /valley: \d\.\d\de[-+]\d+/);
      assert.match(svg, /steep: /);
      assert.match(svg, /minimum: /);
      disposeTrainState(ts);
      disposeTrainState({ ...ts, ...copy, optState: {} });
    });
  });
});
