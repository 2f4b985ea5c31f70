/**
 * Classify images with a chapter-14 checkpoint: image files (PNG, JPEG,
 * resized to the model's input and made grey), or the first N images of the
 * Fashion-MNIST test set.
 *
 *   node --import tsx examples/predict.ts runs/resnet.best.safetensors shirt.png boot.jpg
 *   node --import tsx examples/predict.ts runs/resnet.best.safetensors --test 8
 */
import { parseArgs } from 'node:util';
import { CheckpointError, disposeTree, predict, selectBackend } from '../mod.ts';
import { DatasetError, loadModel, readImages } from '../node.ts';
import { fashionMnistOrExit } from './fashion_mnist_or_exit.ts';

const fail = (message: string, code = 1): never => {
  console.error(message);
  process.exit(code);
};
const { values: args, positionals } = parseArgs({ options: { test: { type: 'string' } }, allowPositionals: true });
const [file, ...images] = positionals;
if (!file || (images.length === 0) === (args.test === undefined)) {
  fail('usage: node --import tsx examples/predict.ts <checkpoint.safetensors> (<image>... | --test N)', 2);
}
await selectBackend();
let m!: ReturnType<typeof loadModel>;
try {
  m = loadModel(file);
} catch (e) {
  if (!(e instanceof CheckpointError)) throw e;
  fail(`error: ${e.message}`);
}
const [h, w, c] = m.inShape;
let x: Uint8Array, names: string[], truth: number[] | undefined;
if (args.test !== undefined) {
  const n = Number(args.test);
  if (!(Number.isInteger(n) && n > 0)) fail(`error: --test: expected a positive integer, got ${JSON.stringify(args.test)}`, 2);
  const { test } = await fashionMnistOrExit();
  const k = Math.min(n, test.y.length);
  x = (test.x as Uint8Array).subarray(0, k * h * w * c);
  names = Array.from({ length: k }, (_, i) => `test image ${i}`);
  truth = Array.from(test.y.subarray(0, k));
} else {
  try {
    x = await readImages(images, [h, w], c as 1 | 3);
  } catch (e) {
    if (!(e instanceof DatasetError)) throw e;
    fail(`error: ${e.message}`);
  }
  names = images;
}
const classes = m.classes ?? [];
const label = (k: number) => classes[k] ?? `class ${k}`;
const { probs, classes: predicted, nClasses } = await predict(m.model, m, { x: x!, shape: m.inShape }, m.preprocess);
predicted.forEach((k, i) => {
  const p = probs[i * nClasses + k];
  const actual = truth ? `  (actual: ${label(truth[i])})` : '';
  console.log(`${names[i]}: ${label(k)} (${(100 * p).toFixed(1)}%)${actual}`);
});
disposeTree({ params: m.params, state: m.state });
