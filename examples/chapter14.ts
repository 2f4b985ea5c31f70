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
  countParams,
  dataLoader,
  disposeTrainState,
  evaluate,
  fitOneCycle,
  lrFind,
  lrFindSvg,
  prngKey,
  selectBackend,
} from '../mod.ts';
import { dataParallel, saveCheckpoints } from '../node.ts';
import { fashionMnistOrExit } from './fashion_mnist_or_exit.ts';

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

await selectBackend(args.backend ? { backend: args.backend as BackendName } : {});
const data = await fashionMnistOrExit();
const stats = channelStats(data.train);
const limit = quick ? { train: 6400, test: 2000 } : { train: data.train.y.length, test: data.test.y.length };
const key = prngKey(Number(args.seed));
const train = dataLoader(data.train, { batchSize, key, normalize: stats, limit: limit.train });
const valid = dataLoader(data.test, { batchSize: 500, shuffle: false, normalize: stats, limit: limit.test });
console.log(`Fashion-MNIST from ${data.dir}: ${train.size} train, ${valid.size} test images; mean ${stats.mean[0].toFixed(3)}, std ${stats.std[0].toFixed(3)}`);
console.log(
  `backend: ${backendInfo().name} (${backendInfo().reason}); ${epochs} epochs, batch ${batchSize}, first stride ${firstStride}${quick ? ', quick run' : ''}\n`,
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
  const config = { model: name, ...opts };
  const model = chapter14Models[name](opts);
  let lr = Number(args.lr);
  if (!args.lr) {
    const found = await lrFind(model, train, { key });
    fs.writeFileSync(path.join(args.out!, `lr_find_${name}.svg`), lrFindSvg(found));
    lr = found.valley;
    console.log(
      `== ${name}: lrFind suggests valley ${found.valley.toExponential(2)}, steep ${found.steep.toExponential(2)}, minimum ${
        found.minimum.toExponential(2)
      } (plot: ${path.join(args.out!, `lr_find_${name}.svg`)})`,
    );
  }
  console.log(`== ${name}: fitOneCycle(${epochs}, ${lr.toExponential(2)})`);
  const checkpoint = path.join(args.out!, `${name}.best.safetensors`);
  const workers = Number(args.workers);
  // The factory's own name is its export name in mod.ts.
  const exportName = chapter14Models[name].name;
  const { trainState, history } = await fitOneCycle(model, { train, valid }, {
    epochs,
    lrMax: lr,
    key,
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
  console.log();
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
console.log(`\nresults: ${out}; best checkpoints: ${results.map((r) => r.checkpoint).join(', ')}`);
console.log(`evaluate one: node --import tsx examples/evaluate.ts ${results[0]?.checkpoint ?? ''}`);
