/**
 * One benchmark configuration of this library: a full training step (forward,
 * backward, AdamW update) of a chapter-14 model on 28×28×1, 10 classes, and
 * the finite check of the new state that `fit` makes after every step.
 *   ours.ts --backend wasm --model resnet2 --batch 64 --steps 10 --runs 3 [--workers 2]
 * Prints one JSON line.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import {
  adamW,
  type BackendName,
  chapter14Models,
  crossEntropy,
  disposeReplacedTrainState,
  disposeTrainState,
  initTrainState,
  prngKey,
  selectBackend,
  trainStep,
} from '../mod.ts';
import { parallelTrainStep } from '../node.ts';
import { nonFiniteTensors } from '../src/train/finite.ts';
import { report, timeSteps } from './timing.ts';

const { values: a } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    model: { type: 'string', default: 'resnet2' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
    workers: { type: 'string', default: '1' },
  },
});
const info = await selectBackend({ backend: a.backend as BackendName, warn: () => {} });
const opts = { nIn: 1, nClasses: 10 };
const name = a.model as keyof typeof chapter14Models;
const model = chapter14Models[name](opts);
const opt = adamW(1e-3);
const batch = Number(a.batch), workers = Number(a.workers);
let ts = initTrainState(model, opt, prngKey(0), [28, 28, 1]);
// The factory's own name is its export name in mod.ts.
const exportName = chapter14Models[name].name;
const step = workers > 1
  ? await parallelTrainStep(model, opt, { workers, spec: { module: new URL('../mod.ts', import.meta.url).href, export: exportName, args: [opts] } })
  : (() => {
    const single = trainStep(model, crossEntropy, opt);
    return Object.assign((s: typeof ts, b: { x: tf.Tensor; y: tf.Tensor }) => Promise.resolve(single(s, b)), { close: () => Promise.resolve() });
  })();
const x = tf.randomNormal([batch, 28, 28, 1], 0, 1, 'float32', 1), y = tf.randomUniform([batch], 0, 10, 'int32', 2);
const timing = await timeSteps(async () => {
  const r = await step(ts, { x, y });
  if ((await nonFiniteTensors(r.trainState)).length) throw new Error(`diverged at step ${ts.step}`);
  disposeReplacedTrainState(ts, r.trainState);
  ts = r.trainState;
}, { batch, warmup: Number(a.warmup), steps: Number(a.steps), runs: Number(a.runs) });
await step.close();
disposeTrainState(ts);
x.dispose();
y.dispose();
report({ engine: `tsnn ${info.name}${workers > 1 ? ` ×${workers} workers` : ''}`, model: name, batch, threads: workers }, timing);
