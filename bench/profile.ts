/**
 * Where one training step's time goes: the step (forward, backward, AdamW)
 * of a chapter-14 model under `tf.profile`, its kernels summed by name (and
 * by input shapes with `--shapes`), with the step's wall time beside the sum
 * of its kernels' times (the rest is per-op overhead in JS).
 *
 *   node --import tsx bench/profile.ts [--model resnet2] [--batch 64] [--threads 2] [--shapes] [--top 30]
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

const { values: a } = parseArgs({
  options: {
    model: { type: 'string', default: 'resnet2' },
    batch: { type: 'string', default: '64' },
    threads: { type: 'string' },
    shapes: { type: 'boolean', default: false },
    top: { type: 'string', default: '30' },
  },
});
const info = await selectBackend({ backend: 'wasm', threads: a.threads === undefined ? undefined : Number(a.threads), warn: () => {} });
const model = chapter14Models[a.model as keyof typeof chapter14Models]({ nIn: 1, nClasses: 10 });
const opt = adamW(1e-3), batch = Number(a.batch);
let ts = initTrainState(model, opt, prngKey(0), [28, 28, 1]);
const step = trainStep(model, crossEntropy, opt);
const x = tf.randomNormal([batch, 28, 28, 1], 0, 1, 'float32', 1), y = tf.randomUniform([batch], 0, 10, 'int32', 2);
const once = async () => {
  const r = await step(ts, { x, y });
  disposeReplacedTrainState(ts, r.trainState);
  ts = r.trainState;
};
for (let i = 0; i < 5; i++) await once(); // warm-up: code tiers up, caches and heaps grow
const t0 = performance.now();
const profile = await tf.profile(once);
const wall = performance.now() - t0;
const byKey = new Map<string, { ms: number; n: number }>();
let sum = 0;
for (const k of profile.kernels) {
  const key = a.shapes ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
  const e = byKey.get(key) ?? { ms: 0, n: 0 };
  e.ms += k.kernelTimeMs as number;
  e.n++;
  byKey.set(key, e);
  sum += k.kernelTimeMs as number;
}
console.log(`${a.model}, batch ${batch}, ${info.reason}`);
console.log(`one step: ${wall.toFixed(0)} ms wall under the profiler, ${profile.kernels.length} ops, ${sum.toFixed(0)} ms in kernels`);
const rows = [...byKey].sort((p, q) => q[1].ms - p[1].ms).slice(0, Number(a.top));
const width = Math.max(...rows.map(([k]) => k.length));
for (const [k, { ms, n }] of rows) console.log(`${k.padEnd(width)}  ${ms.toFixed(1).padStart(7)} ms  ${String(n).padStart(4)}×`);
disposeTrainState(ts);
tf.dispose([x, y]);
