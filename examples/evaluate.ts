/**
 * Load a chapter-14 checkpoint and evaluate it on the Fashion-MNIST test set,
 * with the normalisation saved in it; with --tta, also with test-time
 * augmentation (fastai's `tta`: 4 augmented passes blended with the plain
 * predictions). tta repeats the training augmentation saved in the checkpoint
 * (else flips only); --pad-crop and --no-flip override it.
 *
 *   node --import tsx examples/evaluate.ts runs/resnet.best.safetensors [--tta] [--pad-crop 1] [--no-flip]
 */
import { parseArgs } from 'node:util';
import { channelStats, CheckpointError, dataLoader, disposeTree, evaluate, selectBackend, tta } from '../mod.ts';
import { loadModel } from '../node.ts';
import { fashionMnistOrExit } from './fashion_mnist_or_exit.ts';

const usage = 'usage: node --import tsx examples/evaluate.ts <checkpoint.safetensors> [--tta] [--pad-crop N] [--no-flip]';
const fail = (why: string) => {
  console.error(`error: ${why}\n${usage}`);
  process.exit(2);
};
let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: { tta: { type: 'boolean', default: false }, 'pad-crop': { type: 'string' }, 'no-flip': { type: 'boolean', default: false } },
  });
} catch (e) {
  fail((e as Error).message);
}
const { values: args, positionals } = parsed!;
const padCropArg = args['pad-crop'] === undefined ? undefined : Number(args['pad-crop']);
if (positionals.length !== 1) fail(`expected one checkpoint file, got ${positionals.length} arguments`);
if (padCropArg !== undefined && !(Number.isInteger(padCropArg) && padCropArg >= 0)) {
  fail(`--pad-crop: expected a non-negative integer, got ${JSON.stringify(args['pad-crop'])}`);
}
const file = positionals[0];
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
if (args.tta) {
  const padCrop = padCropArg ?? m.augment?.padCrop ?? 0, flip = !args['no-flip'] && (m.augment?.flip ?? true);
  if (padCrop === 0 && !flip) fail('--tta: no augmentation to repeat (pad-crop 0 and no flip)');
  const p = await tta(m.model, m, { x: data.test.x, shape: data.test.shape }, { normalize, padCrop, flip });
  const right = p.classes.reduce((s, k, i) => s + (k === data.test.y[i] ? 1 : 0), 0);
  console.log(`with tta (4 passes, flip ${flip}, pad-crop ${padCrop}, beta 0.25): test accuracy ${(right / p.classes.length).toFixed(4)}`);
}
disposeTree({ params: m.params, state: m.state });
