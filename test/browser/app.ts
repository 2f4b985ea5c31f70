// A browser program using the package's main entry as a bundler sees it:
// select the wasm backend, train a small ResNet-style model a few steps on
// synthetic data, and post the losses (or the error) back to the page's server.
import { adamW, dataLoader, dense, disposeTrainState, fit, globalAvgPool, prngKey, resBlock, selectBackend, serial } from 'tsnn';
import { checkShape } from 'tsnn/laws';
import * as tf from '@tensorflow/tfjs-core';

const post = (body: unknown) => fetch('/result', { method: 'POST', body: JSON.stringify(body) });

try {
  const info = await selectBackend({ backend: 'wasm', wasmPaths: '/wasm/' });
  const shape = [12, 12, 1];
  const n = 32, x = new Uint8Array(n * 144), y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 4;
    for (let j = 0; j < 144; j++) x[i * 144 + j] = y[i] * 60 + (j % 12) * 3;
  }
  const model = serial(resBlock(1, 8, 2), globalAvgPool, dense({ nf: 4 }));
  await checkShape({ layer: model, inShape: shape, batch: 2, seed: 0 });
  const before = tf.memory().numTensors;
  const result = await fit(model, { train: dataLoader({ x, y, shape }, { batchSize: 8, key: prngKey(1), nClasses: 4 }) }, {
    epochs: 3,
    opt: adamW(1e-2),
    observers: [],
  });
  const steps = result.trainState.step;
  disposeTrainState(result.trainState);
  await post({
    backend: info.name,
    reason: info.reason,
    steps,
    losses: result.history.map((r) => r.trainLoss),
    leaked: tf.memory().numTensors - before,
  });
} catch (e) {
  await post({ error: String((e as Error)?.stack ?? e) });
}
