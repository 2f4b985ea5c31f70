/**
 * One benchmark configuration of this library on a chapter-14 model, on
 * 28×28×1 images of 10 classes. Prints one JSON line.
 *
 *   ours.ts --model resnet2 --batch 64 --steps 10 --runs 3 [--backend wasm] [--threads 2] [--workers 2] [--relaxed-simd false]
 *   ours.ts --mode fit --model resnet2 --batch 64 --steps 10
 *
 * `--mode step` (the default) times the training step (forward, backward,
 * AdamW) and the finite check of the new state that `fit` makes after every
 * step, on one batch, on the engine arrangement given. `--mode fit` times
 * `fit` itself as a user runs it with its defaults: no `selectBackend`, no
 * engine options, batches from a `dataLoader` over bytes in memory, the
 * epoch's steps timed batch to batch (an observer's clock).
 *
 * Both report the ops (tfjs kernels) of one training step, peak RSS and the
 * tensors left alive.
 */
import * as tf from '@tensorflow/tfjs-core';
import { parseArgs } from 'node:util';
import {
  adamW,
  backendInfo,
  type BackendName,
  chapter14Models,
  crossEntropy,
  dataLoader,
  disposeReplacedTrainState,
  disposeTrainState,
  fit,
  initTrainState,
  prngKey,
  selectBackend,
  type TrainState,
  trainStep,
} from '../mod.ts';
import { parallelTrainStep } from '../node.ts';
import { nonFiniteTensors } from '../src/train/finite.ts';
import { report, timeSteps } from './timing.ts';

const { values: a } = parseArgs({
  options: {
    mode: { type: 'string', default: 'step' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    model: { type: 'string', default: 'resnet2' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' },
    runs: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '2' },
    workers: { type: 'string', default: '1' },
    'relaxed-simd': { type: 'string', default: 'true' },
  },
});
const opts = { nIn: 1, nClasses: 10 };
const name = a.model as keyof typeof chapter14Models;
const model = chapter14Models[name](opts);
const batch = Number(a.batch), workers = Number(a.workers), steps = Number(a.steps), runs = Number(a.runs), warmup = Number(a.warmup);

/** The kernels one training step runs (profiled once, outside the timing). */
const opsPerStep = async (): Promise<number> => {
  const opt = adamW(1e-3);
  let ts = initTrainState(model, opt, prngKey(1), [28, 28, 1]);
  const x = tf.randomNormal([batch, 28, 28, 1]), y = tf.randomUniform([batch], 0, 10, 'int32');
  const step = trainStep(model, crossEntropy, opt);
  await step(ts, { x, y }).then((r) => (disposeReplacedTrainState(ts, r.trainState), ts = r.trainState)); // any first-use work
  const info = await tf.profile(async () => {
    const r = await step(ts, { x, y });
    disposeReplacedTrainState(ts, r.trainState);
    ts = r.trainState;
  });
  disposeTrainState(ts);
  tf.dispose([x, y]);
  return info.kernels.length;
};

if (a.mode === 'fit') {
  // As a user runs it: nothing chosen, fit's defaults.
  const n = batch * (warmup + steps * runs);
  const bytes = new Uint8Array(n * 784), labels = new Int32Array(n);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  for (let i = 0; i < n; i++) labels[i] = i % 10;
  const train = dataLoader({ x: bytes, y: labels, shape: [28, 28, 1] }, { batchSize: batch, dropLast: true });
  const ends: number[] = [];
  const r = await fit(model, { train }, { epochs: 1, opt: adamW(1e-3), observers: [{ onBatchEnd: () => void ends.push(performance.now()) }] });
  disposeTrainState(r.trainState);
  const rates: number[] = [];
  for (let k = 0; k < runs; k++) {
    const from = warmup - 1 + k * steps; // the end of the batch before the run's first
    rates.push((batch * steps) / ((ends[from + steps] - ends[from]) / 1000));
  }
  const sorted = [...rates].sort((p, q) => p - q);
  const ops = await opsPerStep();
  report({ engine: `tsnn fit defaults (${backendInfo().reason.split('; ').pop()})`, model: name, batch, threads: 0, ops_per_step: ops }, {
    rates,
    median: sorted[Math.floor(sorted.length / 2)],
  });
} else {
  const info = await selectBackend({
    backend: (a.backend ?? 'wasm') as BackendName,
    threads: a.threads === undefined ? undefined : Number(a.threads),
    relaxedSimd: a['relaxed-simd'] !== 'false',
    warn: () => {},
  });
  const opt = adamW(1e-3);
  let ts: TrainState = initTrainState(model, opt, prngKey(0), [28, 28, 1]);
  // The factory's own name is its export name in mod.ts.
  const exportName = chapter14Models[name].name;
  const step = workers > 1
    ? await parallelTrainStep(model, opt, { workers, spec: { module: new URL('../mod.ts', import.meta.url).href, export: exportName, args: [opts] } })
    : (() => {
      const single = trainStep(model, crossEntropy, opt);
      return Object.assign((s: TrainState, b: { x: tf.Tensor; y: tf.Tensor }) => single(s, b), { close: () => Promise.resolve() });
    })();
  const x = tf.randomNormal([batch, 28, 28, 1], 0, 1, 'float32', 1), y = tf.randomUniform([batch], 0, 10, 'int32', 2);
  const timing = await timeSteps(async () => {
    const r = await step(ts, { x, y });
    if ((await nonFiniteTensors(r.trainState)).length) throw new Error(`diverged at step ${ts.step}`);
    disposeReplacedTrainState(ts, r.trainState);
    ts = r.trainState;
  }, { batch, warmup, steps, runs });
  await step.close();
  disposeTrainState(ts);
  tf.dispose([x, y]);
  // With workers, the calling thread's share: its step is the same graph on a smaller batch.
  const ops = await opsPerStep();
  const threads = info.name === 'wasm' ? Number(/(\d+) threads?/.exec(info.reason)?.[1] ?? 1) : 1;
  const arrangement = workers > 1 ? ` ×${workers} workers` : info.name === 'wasm' ? ` ${threads} thread${threads === 1 ? '' : 's'}` : '';
  report({ engine: `tsnn ${info.name}${arrangement}`, model: name, batch, threads: Math.max(workers, threads), ops_per_step: ops }, timing);
}
