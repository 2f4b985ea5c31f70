// The README's training example, kept in sync by test/readme.test.ts (type-checked, not run: it trains for minutes).
import { writeFileSync } from 'node:fs';
import { channelStats, dataLoader, fitOneCycle, lrFind, lrFindSvg, resNet, selectBackend } from '../mod.ts';
import { loadFashionMnistOrThrow, saveCheckpoint } from '../node.ts';

await selectBackend(); // wasm, or tfjs-node(-gpu) where it installs
const { train, test } = await loadFashionMnistOrThrow();
const norm = channelStats(train);
const data = {
  train: dataLoader(train, { batchSize: 64, normalize: norm }),
  valid: dataLoader(test, { batchSize: 500, shuffle: false, normalize: norm }),
};
const model = resNet({ nIn: 1, nClasses: 10 });
const found = await lrFind(model, data.train);
writeFileSync('lr_find.svg', lrFindSvg(found));
const { valley } = found;
const { trainState } = await fitOneCycle(model, data, { epochs: 5, lrMax: valley });
await saveCheckpoint('resnet.safetensors', trainState, { model: 'resnet' });
