/**
 * What `fit`'s divergence guard costs against the step it guards: a training
 * step of a chapter-14 model, and the finite check of its new state (params,
 * BatchNorm statistics, Adam moments), timed in alternation in one process.
 *
 *   node --import tsx bench/guard_cost.ts [--backend wasm] [--model resnet2] [--batch 64] [--rounds 30]
 *
 * Prints the median step and check times, their ranges, and the ratio.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import {
  adamW,
  chapter14Models,
  crossEntropy,
  disposeReplacedTrainState,
  disposeTrainState,
  initTrainState,
  prngKey,
  selectBackend,
  trainStep,
} from '../mod.ts';
import { nonFiniteTensors } from '../src/train/finite.ts';
import { flattenTree } from '../src/tree.ts';

const { values: a } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    model: { type: 'string', default: 'resnet2' },
    batch: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '30' },
  },
});
const info = await selectBackend({ backend: a.backend as 'wasm' | 'cpu', warn: () => {} });
const model = chapter14Models[a.model as keyof typeof chapter14Models]({ nIn: 1, nClasses: 10 });
const opt = adamW(1e-3), batch = Number(a.batch);
let ts = initTrainState(model, opt, prngKey(0), [28, 28, 1]);
const step = trainStep(model, crossEntropy, opt);
const x = tf.randomNormal([batch, 28, 28, 1], 0, 1, 'float32', 1), y = tf.randomUniform([batch], 0, 10, 'int32', 2);
const stepMs: number[] = [], checkMs: number[] = [];
for (let i = 0; i < Number(a.rounds) + 3; i++) {
  const t0 = performance.now();
  const r = await step(ts, { x, y });
  const t1 = performance.now();
  const bad = await nonFiniteTensors(r.trainState);
  const t2 = performance.now();
  if (bad.length) throw new Error(`diverged: ${bad[0].path}`);
  disposeReplacedTrainState(ts, r.trainState);
  ts = r.trainState;
  if (i >= 3) {
    stepMs.push(t1 - t0);
    checkMs.push(t2 - t1);
  }
}
const median = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
const range = (v: number[]) => `${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}`;
const tensors = flattenTree(ts.params).length + flattenTree(ts.state).length + flattenTree(ts.optState as never).length;
console.log(`${a.model} at batch ${batch} on ${info.name}, ${stepMs.length} alternating rounds; the check reads ${tensors} tensors`);
console.log(`  step  ${median(stepMs).toFixed(2)} ms (${range(stepMs)})`);
console.log(`  check ${median(checkMs).toFixed(2)} ms (${range(checkMs)})`);
console.log(`  check / step: ${(100 * median(checkMs) / median(stepMs)).toFixed(2)}% (per-round ratios ${range(checkMs.map((c, i) => 100 * c / stepMs[i]))}%)`);
disposeTrainState(ts);
tf.dispose([x, y]);
