/**
 * The ResNet chapter of the fastai book (chapter 14), on Fashion-MNIST:
 * the plain stride-2 ConvLayer model, the ResBlock model and the
 * two-ResBlocks-per-stage model, each trained with fitOneCycle, then a
 * comparison table and a JSON results file.
 *
 *   node --import tsx examples/chapter14.ts [--quick] [--epochs 5] [--lr 3e-3]
 *        [--models plain,resnet,resnet2] [--first-stride 1] [--batch 64] [--out runs/] [--workers 2]
 *
 * Without --lr the learning rate is lrFind's valley suggestion.
 */
import { parseArgs } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  backendInfo,
  type BackendName,
  channelStats,
  chapter14Models,
  confusionMatrix,
  confusionMatrixSvg,
  countParams,
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
  topLosses,
  topLossesSvg,
} from '../mod.ts';
import { dataParallel, FASHION_MNIST_CLASSES, loadModel, saveCheckpoints } from '../node.ts';
import { fashionMnistOrExit } from './fashion_mnist_or_exit.ts';
import { savePlots } from './save_plots.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    models: { type: 'string', default: 'plain,resnet,resnet2' },
    'first-stride': { type: 'string', default: '2' },
    batch: { type: 'string', default: '64' },
    out: { type: 'string', default: 'runs' },
    backend: { type: 'string' },
    seed: { type: 'string', default: '0' },
    workers: { type: 'string', default: '1' },
  },
});

const quick = args.quick!;
const epochs = Number(args.epochs ?? (quick ? 2 : 5));
const batchSize = Number(args.batch);
const firstStride = Number(args['first-stride']);
const models = args.models!.split(',') as (keyof typeof chapter14Models)[];
for (const m of models) if (!(m in chapter14Models)) throw new Error(`--models: unknown model '${m}' (known: ${Object.keys(chapter14Models).join(', ')})`);
fs.mkdirSync(args.out!, { recursive: true });

// With workers, each runs one XNNPACK thread and so does this one: more would oversubscribe the cores.
await selectBackend({ ...(args.backend ? { backend: args.backend as BackendName } : {}), ...(Number(args.workers) > 1 ? { threads: 1 } : {}) });
const data = await fashionMnistOrExit();
const stats = channelStats(data.train);
const limit = quick ? { train: 6400, test: 2000 } : { train: data.train.y.length, test: data.test.y.length };
const key = prngKey(Number(args.seed));
const train = dataLoader(data.train, { batchSize, key, normalize: stats, limit: limit.train });
const valid = dataLoader(data.test, { batchSize: 500, shuffle: false, normalize: stats, limit: limit.test });
console.log(`Fashion-MNIST from ${data.dir}: ${train.size} train, ${valid.size} test images; mean ${stats.mean[0].toFixed(3)}, std ${stats.std[0].toFixed(3)}`);
console.log(
  `run: ${epochs} epochs, batch ${batchSize}, first stride ${firstStride}${quick ? ', quick run' : ''}\n`,
);

interface Result {
  model: string;
  params: number;
  lr: number;
  accuracy: number;
  validLoss: number;
  secondsPerEpoch: number;
  checkpoint: string;
}
const results: Result[] = [];
for (const name of models) {
  const opts = { nIn: 1, nClasses: 10, firstStride };
  // What loadModel needs to rebuild the model and preprocess its inputs (examples/evaluate.ts, examples/predict.ts).
  const config = { model: name, ...opts, inShape: [28, 28, 1], preprocess: { normalize: stats }, classes: FASHION_MNIST_CLASSES };
  const model = chapter14Models[name](opts);
  let lr = Number(args.lr);
  if (!args.lr) {
    const found = await lrFind(model, train, { key });
    await savePlots(path.join(args.out!, `lr_find_${name}`), lrFindSvg(found));
    fs.writeFileSync(path.join(args.out!, `lr_find_${name}.json`), JSON.stringify(found));
    lr = found.valley;
    console.log(
      `== ${name}: lrFind suggests valley ${found.valley.toExponential(2)}, steep ${found.steep.toExponential(2)}, minimum ${
        found.minimum.toExponential(2)
      } (plot: ${path.join(args.out!, `lr_find_${name}.svg`)}, .png)`,
    );
  }
  console.log(`== ${name}: fitOneCycle(${epochs}, ${lr.toExponential(2)})`);
  const checkpoint = path.join(args.out!, `${name}.best.safetensors`);
  const workers = Number(args.workers);
  // The factory's own name is its export name in mod.ts.
  const exportName = chapter14Models[name].name;
  const rec = recorder();
  const { trainState, history } = await fitOneCycle(model, { train, valid }, {
    epochs,
    lrMax: lr,
    key,
    observers: [epochTable(), rec],
    callbacks: [saveCheckpoints({ path: checkpoint, config, mode: 'best' })],
    ...(workers > 1 ? { step: dataParallel({ workers, spec: { module: new URL('../mod.ts', import.meta.url).href, export: exportName, args: [opts] } }) } : {}),
  });
  const final = await evaluate(model, trainState, valid);
  results.push({
    model: name,
    params: countParams(trainState.params),
    lr,
    accuracy: final.metrics.accuracy,
    validLoss: final.loss,
    secondsPerEpoch: history.reduce((s, r) => s + r.seconds, 0) / history.length,
    checkpoint,
  });
  disposeTrainState(trainState);
  await savePlots(path.join(args.out!, `loss_${name}`), lossPlotSvg(rec));
  console.log(`loss plot: ${path.join(args.out!, `loss_${name}.svg`)}, .png\n`);
}

console.log('model     params     lr        accuracy  valid_loss  time/epoch');
for (const r of results) {
  console.log(
    `${r.model.padEnd(8)}  ${String(r.params).padEnd(9)}  ${r.lr.toExponential(2)}  ${r.accuracy.toFixed(4)}    ${r.validLoss.toFixed(4)}      ${
      r.secondsPerEpoch.toFixed(1)
    } s`,
  );
}
const out = path.join(args.out!, 'chapter14_results.json');
fs.writeFileSync(
  out,
  JSON.stringify(
    {
      date: new Date().toISOString(),
      command: process.argv.slice(1).join(' '),
      backend: backendInfo(),
      epochs,
      batchSize,
      firstStride,
      workers: Number(args.workers),
      quick,
      trainImages: train.size,
      testImages: valid.size,
      results,
    },
    null,
    2,
  ),
);
// The best model, reloaded for inference as a user would: its confusion matrix, most confused pairs and top losses.
const best = results.reduce((a, b) => (b.accuracy > a.accuracy ? b : a), results[0]);
if (best) {
  const m = loadModel(best.checkpoint);
  const n = valid.size, images = { x: data.test.x.subarray(0, n * 784), shape: [28, 28, 1] };
  const actual = data.test.y.subarray(0, n);
  const p = await predict(m.model, m, images, m.preprocess);
  const cm = confusionMatrix(p, actual), classes = [...FASHION_MNIST_CLASSES];
  const files = [`confusion_${best.model}`, `top_losses_${best.model}`].map((f) => path.join(args.out!, f));
  await savePlots(files[0], confusionMatrixSvg(cm, classes));
  await savePlots(files[1], topLossesSvg({ x: data.test.x as Uint8Array, shape: [28, 28, 1] }, topLosses(p, actual, 9), classes));
  console.log(`\n${best.model} (best), most confused (actual, predicted, count):`);
  for (const [a, b, count] of mostConfused(cm, classes).slice(0, 5)) console.log(`  ${a} → ${b}: ${count}`);
  console.log(`confusion matrix: ${files[0]}.svg, .png; top losses: ${files[1]}.svg, .png`);
  disposeTree({ params: m.params, state: m.state });
}
console.log(`\nresults: ${out}; best checkpoints: ${results.map((r) => r.checkpoint).join(', ')}`);
console.log(`evaluate one: node --import tsx examples/evaluate.ts ${results[0]?.checkpoint ?? ''}`);
