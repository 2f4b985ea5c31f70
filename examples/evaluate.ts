/**
 * Load a chapter-14 checkpoint and evaluate it on the Fashion-MNIST test set,
 * with the normalisation saved in it.
 *
 *   node --import tsx examples/evaluate.ts runs/resnet.best.safetensors
 */
import { channelStats, CheckpointError, dataLoader, disposeTree, evaluate, selectBackend } from '../mod.ts';
import { loadModel } from '../node.ts';
import { fashionMnistOrExit } from './fashion_mnist_or_exit.ts';

const file = process.argv[2];
if (!file || process.argv.length > 3) {
  console.error('usage: node --import tsx examples/evaluate.ts <checkpoint.safetensors>');
  process.exit(2);
}
await selectBackend();
let m;
try {
  m = loadModel(file);
} catch (e) {
  if (!(e instanceof CheckpointError)) throw e;
  console.error(`error: ${e.message}`);
  process.exit(1);
}
const data = await fashionMnistOrExit();
// Checkpoints saved before the preprocessing was stored in them: the training set's statistics, as training used.
const normalize = m.preprocess.normalize ?? channelStats(data.train);
const test = dataLoader(data.test, { batchSize: 500, shuffle: false, normalize });
const r = await evaluate(m.model, m, test);
console.log(`${m.config.model} (step ${m.step}): test accuracy ${r.metrics.accuracy.toFixed(4)}, loss ${r.loss.toFixed(4)}`);
disposeTree({ params: m.params, state: m.state });
