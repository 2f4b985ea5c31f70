/**
 * The chapter's deeper ResNet trained longer, with augmentation: 20 epochs of
 * fitOneCycle on Fashion-MNIST with random pad-and-crop and horizontal flips
 * (fastai's course recipe: `RandomCrop(28, padding=1)`, `RandomHorizontalFlip`),
 * then the test accuracy, plain and with test-time augmentation (fastai's
 * `tta`: the same flips and shifts). The README's run is `--lr 5e-3` with the
 * defaults (batch 128, label smoothing 0.1, weight decay 0.1).
 *
 *   node --import tsx examples/augmented.ts [--epochs 20] [--batch 128] [--lr 5e-3]
 *        [--model resnet2] [--pad 1] [--no-flip] [--first-stride 2] [--label-smoothing 0.1] [--wd 0.1]
 *        [--workers 2] [--out runs/augmented] [--quick]
 *
 * Without --lr the learning rate is lrFind's valley suggestion (its plot and data are saved).
 */
import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  backendInfo,
  channelStats,
  chapter14Models,
  confusionMatrix,
  confusionMatrixSvg,
  countParams,
  crossEntropyWith,
  dataLoader,
  disposeTrainState,
  disposeTree,
  epochTable,
  evaluate,
  fitOneCycle,
  lossPlotSvg,
  lrFind,
  lrFindSvg,
  mostConfused,
  predict,
  prngKey,
  recorder,
  selectBackend,
  tta,
} from '../mod.ts';
import { dataParallel, FASHION_MNIST_CLASSES, loadModel, saveCheckpoints } from '../node.ts';
import { fashionMnistOrExit } from './fashion_mnist_or_exit.ts';
import { savePlots } from './save_plots.ts';

const { values: args } = parseArgs({
  options: {
    epochs: { type: 'string', default: '20' },
    batch: { type: 'string', default: '128' },
    lr: { type: 'string' },
    model: { type: 'string', default: 'resnet2' },
    pad: { type: 'string', default: '1' },
    'no-flip': { type: 'boolean', default: false },
    'first-stride': { type: 'string', default: '2' },
    workers: { type: 'string', default: '2' },
    'label-smoothing': { type: 'string', default: '0.1' },
    wd: { type: 'string', default: '0.1' },
    seed: { type: 'string', default: '0' },
    out: { type: 'string', default: 'runs/augmented' },
    quick: { type: 'boolean', default: false },
  },
});
const name = args.model as keyof typeof chapter14Models;
if (!(name in chapter14Models)) throw new Error(`--model: unknown model '${name}' (known: ${Object.keys(chapter14Models).join(', ')})`);
const epochs = Number(args.epochs), batchSize = Number(args.batch), workers = Number(args.workers);
const padCrop = Number(args.pad), flip = !args['no-flip'];
const labelSmoothing = Number(args['label-smoothing']), weightDecay = Number(args.wd);
const loss = crossEntropyWith({ labelSmoothing });
// The worker threads rebuild the loss from this spec.
const lossSpec = { module: new URL('../mod.ts', import.meta.url).href, export: 'crossEntropyWith', args: [{ labelSmoothing }] };
const out = args.out!;
fs.mkdirSync(out, { recursive: true });

// With workers, each runs one XNNPACK thread and so does this one: more would oversubscribe the cores.
await selectBackend(workers > 1 ? { threads: 1 } : {});
const data = await fashionMnistOrExit();
const stats = channelStats(data.train);
const key = prngKey(Number(args.seed));
// --quick: a smoke run on a slice of the data.
const limit = args.quick ? { train: 6400, test: 2000 } : { train: data.train.y.length, test: data.test.y.length };
const train = dataLoader(data.train, { batchSize, key, normalize: stats, padCrop, flip, limit: limit.train });
const valid = dataLoader(data.test, { batchSize: 500, shuffle: false, normalize: stats, limit: limit.test });
console.log(`Fashion-MNIST from ${data.dir}: ${train.size} train, ${valid.size} test images`);
console.log(
  `run: ${name}, ${epochs} epochs, batch ${batchSize}, pad-crop ${padCrop}, flip ${flip}, label smoothing ${labelSmoothing}, weight decay ${weightDecay}, ${workers} worker(s)\n`,
);

const opts = { nIn: 1, nClasses: 10, firstStride: Number(args['first-stride']) };
const config = { model: name, ...opts, inShape: [28, 28, 1], preprocess: { normalize: stats }, classes: FASHION_MNIST_CLASSES, augment: { padCrop, flip } };
const model = chapter14Models[name](opts);
let lr = Number(args.lr);
if (!args.lr) {
  const found = await lrFind(model, train, { key, loss });
  await savePlots(path.join(out, `lr_find_${name}`), lrFindSvg(found));
  fs.writeFileSync(path.join(out, `lr_find_${name}.json`), JSON.stringify(found));
  lr = found.valley;
  console.log(`lrFind: valley ${found.valley.toExponential(2)}, steep ${found.steep.toExponential(2)}, minimum ${found.minimum.toExponential(2)}`);
}
console.log(`fitOneCycle(${epochs}, ${lr.toExponential(2)})`);
const checkpoint = path.join(out, `${name}.safetensors`);
const rec = recorder();
const started = Date.now();
const { trainState, history } = await fitOneCycle(model, { train, valid }, {
  epochs,
  lrMax: lr,
  weightDecay,
  loss,
  key,
  observers: [epochTable(), rec],
  // The last epoch's model, not the best one: choosing an epoch by its test accuracy would tune on the test set.
  callbacks: [saveCheckpoints({ path: checkpoint, config, mode: 'last' })],
  ...(workers > 1
    ? {
      step: dataParallel({ workers, spec: { module: new URL('../mod.ts', import.meta.url).href, export: chapter14Models[name].name, args: [opts] }, lossSpec }),
    }
    : {}),
});
const minutes = (Date.now() - started) / 60000;
const final = await evaluate(model, trainState, valid);
const params = countParams(trainState.params);
disposeTrainState(trainState);
await savePlots(path.join(out, `loss_${name}`), lossPlotSvg(rec));

const m = loadModel(checkpoint);
const images = { x: data.test.x.subarray(0, valid.size * 784), shape: [28, 28, 1] };
const p = await predict(m.model, m, images, m.preprocess);
const cm = confusionMatrix(p, data.test.y.subarray(0, valid.size));
// fastai's learn.tta(): the mean of 4 augmented passes (the training flips and shifts), blended 3:1 with the plain pass.
// Trained with no augmentation, there is none to repeat.
const pt = padCrop > 0 || flip ? await tta(m.model, m, images, { ...m.preprocess, ...m.augment }) : undefined;
const ttaAccuracy = pt ? pt.classes.reduce((n, c, i) => n + (c === data.test.y[i] ? 1 : 0), 0) / valid.size : null;
await savePlots(path.join(out, `confusion_${name}`), confusionMatrixSvg(cm, [...FASHION_MNIST_CLASSES]));
disposeTree({ params: m.params, state: m.state });
console.log(
  `\n${name} (${params} params): test accuracy ${final.metrics.accuracy.toFixed(4)}, loss ${final.loss.toFixed(4)}, ${minutes.toFixed(1)} min training`,
);
if (ttaAccuracy !== null) console.log(`with tta (4 passes, flip ${flip}, pad-crop ${padCrop}, beta 0.25): test accuracy ${ttaAccuracy.toFixed(4)}`);
console.log('most confused (actual → predicted: count):');
for (const [a, b, count] of mostConfused(cm, [...FASHION_MNIST_CLASSES]).slice(0, 5)) console.log(`  ${a} → ${b}: ${count}`);
fs.writeFileSync(
  path.join(out, 'augmented_results.json'),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      command: process.argv.slice(1).join(' '),
      backend: backendInfo(),
      model: name,
      ...opts,
      params,
      epochs,
      batchSize,
      padCrop,
      flip,
      labelSmoothing,
      weightDecay,
      workers,
      lr,
      accuracy: final.metrics.accuracy,
      ttaAccuracy,
      validLoss: final.loss,
      trainingMinutes: minutes,
      history,
      checkpoint,
    },
    null,
    2,
  ),
);
console.log(`plots and results in ${out}; checkpoint ${checkpoint}`);
