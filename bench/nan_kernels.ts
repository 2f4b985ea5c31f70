/**
 * The engine's NaN-keeping wasm kernels against the stock ones they replace,
 * in one process, alternating rounds: ReLU and a 3×3/2 max pool on
 * [64, 28, 28, 32].
 *
 *   node --import tsx bench/nan_kernels.ts [--rounds 6] [--calls 40]
 *
 * Prints each kernel's median time per call and its range over rounds.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { parseArgs } from 'node:util';
import { installNanKernels } from '../src/backend/nan_kernels.ts';

const { values: a } = parseArgs({ options: { rounds: { type: 'string', default: '6' }, calls: { type: 'string', default: '40' } } });
await tf.setBackend('wasm');
// The stock kernels, taken before the engine replaces them.
const stock = { relu: tf.getKernel('Relu', 'wasm')!, maxPool: tf.getKernel('MaxPool', 'wasm')! };
installNanKernels();
const ours = { relu: tf.getKernel('Relu', 'wasm')!, maxPool: tf.getKernel('MaxPool', 'wasm')! };
const use = (k: tf.KernelConfig) => {
  tf.unregisterKernel(k.kernelName, 'wasm');
  tf.registerKernel(k);
};
const x = tf.randomNormal([64, 28, 28, 32]) as tf.Tensor4D;
const ops = { relu: () => tf.relu(x), maxPool: () => tf.maxPool(x, 3, 2, 'valid') };
const time = (f: () => tf.Tensor, n: number) => {
  for (let i = 0; i < 5; i++) f().dispose();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f().dispose();
  return (performance.now() - t0) / n;
};
const times: Record<string, number[]> = {};
for (let r = 0; r < Number(a.rounds); r++) {
  for (const name of ['relu', 'maxPool'] as const) {
    for (const [who, kernels] of [['stock', stock], ['tsnn', ours]] as const) {
      use(kernels[name]);
      (times[`${name} ${who}`] ??= []).push(time(ops[name], Number(a.calls)));
    }
  }
}
const median = (v: number[]) => [...v].sort((p, q) => p - q)[Math.floor(v.length / 2)];
for (const [k, v] of Object.entries(times)) {
  console.log(`${k.padEnd(14)} ${median(v).toFixed(3)} ms  (${Math.min(...v).toFixed(3)}–${Math.max(...v).toFixed(3)})`);
}
x.dispose();
