/**
 * Train a small CNN on a Fashion-MNIST subset in under a minute: find a
 * learning rate with lrFind, train with fitOneCycle, save a checkpoint, load
 * it back and evaluate.
 *
 *   node --import tsx examples/train_small.ts      (or: deno run -A examples/train_small.ts)
 */
import * as fs from 'node:fs';
import {
  adamW,
  channelStats,
  convLayer,
  dataLoader,
  dense,
  disposeTrainState,
  evaluate,
  fitOneCycle,
  flatten,
  globalAvgPool,
  lrFind,
  lrFindSvg,
  prngKey,
  selectBackend,
  serial,
  withLabel,
} from '../mod.ts';
import { loadCheckpointOrThrow, saveCheckpoints } from '../node.ts';
import { fashionMnistOrExit } from './fashion_mnist_or_exit.ts';

await selectBackend(); // wasm here; tfjs-node(-gpu) where it installs
const { train, test } = await fashionMnistOrExit();
const stats = channelStats(train);
const trainDl = dataLoader(train, { batchSize: 64, key: prngKey(1), normalize: stats, limit: 8192, flip: true });
const validDl = dataLoader(test, { batchSize: 500, shuffle: false, normalize: stats, limit: 2000 });

const model = serial(
  withLabel('body', serial(convLayer(1, 16, { stride: 2 }), convLayer(16, 32, { stride: 2 }), convLayer(32, 64, { stride: 2 }))),
  withLabel('pool', globalAvgPool),
  withLabel('flatten', flatten),
  withLabel('head', dense({ nf: 10 })),
);

const found = await lrFind(model, trainDl);
fs.writeFileSync('lr_find_small.svg', lrFindSvg(found));
const { valley, steep } = found;
console.log(`lrFind: valley ${valley.toExponential(2)}, steep ${steep.toExponential(2)} (plot in lr_find_small.svg)`);

const { trainState } = await fitOneCycle(model, { train: trainDl, valid: validDl }, {
  epochs: 3,
  lrMax: valley,
  callbacks: [saveCheckpoints({ path: 'small.safetensors', config: { example: 'train_small' } })],
});
disposeTrainState(trainState);

// The checkpoint holds params, BatchNorm statistics, optimizer state, step and key.
const { trainState: loaded } = loadCheckpointOrThrow('small.safetensors', { model, opt: adamW(1e-3), inShape: [28, 28, 1] });
const { loss, metrics } = await evaluate(model, loaded, validDl);
console.log(`reloaded from small.safetensors (step ${loaded.step}): valid loss ${loss.toFixed(4)}, accuracy ${metrics.accuracy.toFixed(4)}`);
disposeTrainState(loaded);
