/**
 * Load a chapter-14 checkpoint and evaluate it on the Fashion-MNIST test set.
 *
 *   node --import tsx examples/evaluate.ts runs/resnet.best.safetensors
 */
import { isLeft } from 'fp-ts/lib/Either.js';
import { adamW, channelStats, chapter14Models, dataLoader, decodeSafetensors, disposeTrainState, evaluate, selectBackend } from '../mod.ts';
import { loadCheckpoint } from '../node.ts';
import { fashionMnistOrExit } from './fashion_mnist_or_exit.ts';
import * as fs from 'node:fs';

const file = process.argv[process.argv.length - 1];
if (!file.endsWith('.safetensors')) throw new Error('usage: evaluate.ts <checkpoint.safetensors>');
await selectBackend();
// The model's configuration travels in the checkpoint's metadata.
const header = decodeSafetensors(new Uint8Array(fs.readFileSync(file)));
if (isLeft(header)) throw header.left;
const { model: name, ...config } = JSON.parse(header.right.metadata.config);
const model = chapter14Models[name as keyof typeof chapter14Models](config);
// fitOneCycle trains with adamW, so the optimizer state has adamW's structure.
const loaded = loadCheckpoint(file, { model, opt: adamW(1e-3), inShape: [28, 28, 1] });
if (isLeft(loaded)) throw loaded.left;
const data = await fashionMnistOrExit();
const test = dataLoader(data.test, { batchSize: 500, shuffle: false, normalize: channelStats(data.train) });
const r = await evaluate(model, loaded.right.trainState, test);
console.log(`${name} (step ${loaded.right.trainState.step}): test accuracy ${r.metrics.accuracy.toFixed(4)}, loss ${r.loss.toFixed(4)}`);
disposeTrainState(loaded.right.trainState);
