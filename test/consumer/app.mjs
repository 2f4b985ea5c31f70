// A consumer of the installed package, in plain JavaScript: no TypeScript loader.
// Builds resNet, runs a forward pass, trains a few steps on wasm, and runs a
// data-parallel step with two workers that rebuild the model from 'tsnn', then
// fine-tunes, saves, reloads with loadModel and predicts, as the README shows,
// and writes a plot (PNG refused with the install hint: resvg is an optional peer).
import {
  adamW,
  confusionMatrix,
  confusionMatrixSvg,
  countParams,
  dataLoader,
  disposeTrainState,
  disposeTree,
  earlyStopping,
  evalCtx,
  fineTune,
  fit,
  predict,
  prngKey,
  resNet,
  resnet18,
  selectBackend,
} from 'tsnn';
import { dataParallel, loadModel, saveCheckpoints, savePlot } from 'tsnn/node';
import { checkShape } from 'tsnn/laws';
import { installEngine } from 'tsnn/backend';

const info = await selectBackend({ backend: 'wasm', warn: () => {} });
installEngine(); // idempotent: selectBackend made this call already
const n = 32, shape = [28, 28, 1];
const x = new Uint8Array(n * 28 * 28), y = new Int32Array(n);
for (let i = 0; i < n; i++) {
  y[i] = i % 10;
  for (let j = 0; j < 28 * 28; j++) x[i * 784 + j] = (j * (y[i] + 1) * 7 + i) % 256;
}
const ds = { x, y, shape };
const model = resNet({ nIn: 1, nClasses: 10 });
await checkShape({ layer: model, inShape: shape, batch: 2, seed: 0 });

const init = model.init(prngKey(0), shape);
const tf = await import('@tensorflow/tfjs-core');
const out = model.apply(init.params, init.state, tf.zeros([2, ...shape]), evalCtx);
console.log(JSON.stringify({ backend: info.name, forward: out.y.shape }));
out.y.dispose();

const opts = { epochs: 1, opt: adamW(1e-3), observers: [] };
const train = () => dataLoader(ds, { batchSize: 16, key: prngKey(1), nClasses: 10 });
const one = await fit(model, { train: train() }, opts);
console.log(JSON.stringify({ steps: one.trainState.step, loss: one.history.at(-1)?.trainLoss }));
disposeTrainState(one.trainState);

const two = await fit(model, { train: train() }, {
  ...opts,
  step: dataParallel({ workers: 2, spec: { module: 'tsnn', export: 'resNet', args: [{ nIn: 1, nClasses: 10 }] } }),
});
console.log(JSON.stringify({ parallelSteps: two.trainState.step, loss: two.history.at(-1)?.trainLoss }));
disposeTrainState(two.trainState);

// The README's Learner pieces, from the installed package.
const r18 = resnet18(10, { nIn: 1 }).init(prngKey(0), shape);
const r18Params = countParams(r18.params);
disposeTree({ params: r18.params, state: r18.state });
const config = { model: 'resnet', nIn: 1, nClasses: 10, inShape: shape, preprocess: {} };
const tuned = await fineTune(model, { train: train(), valid: train() }, {
  epochs: 2,
  groups: [['blocks'], ['head']],
  observers: [],
  callbacks: [earlyStopping({ patience: 1 }), saveCheckpoints({ path: 'tuned.safetensors', config })],
});
disposeTrainState(tuned.trainState);
const m = loadModel('tuned.safetensors');
const p = await predict(m.model, m, ds, m.preprocess);
const cm = confusionMatrix(p, y);
console.log(
  JSON.stringify({
    r18Params,
    frozenEpochs: tuned.frozenHistory.length,
    epochs: tuned.history.length,
    predicted: p.classes.length,
    cmTotal: cm.flat().reduce((a, b) => a + b),
  }),
);
if (r18Params !== 11_200_298 || p.classes.length !== n || cm.flat().reduce((a, b) => a + b) !== n) {
  throw new Error('the Learner pieces gave unexpected results');
}
disposeTree({ params: m.params, state: m.state });

// PNG output needs the optional peer @resvg/resvg-js, which this project does not install: one clear error, no file.
const plotError = await savePlot('confusion.png', confusionMatrixSvg(cm, cm.map((_, i) => `class ${i}`))).then(() => null, (e) => e);
console.log(JSON.stringify({ pngWithoutResvg: plotError?.message }));
if (!/@resvg\/resvg-js, which is not installed; install it \(npm install @resvg\/resvg-js\)/.test(plotError?.message ?? '')) {
  throw new Error(`savePlot without @resvg/resvg-js: expected the not-installed error, got ${plotError}`);
}
await savePlot('confusion.svg', confusionMatrixSvg(cm, cm.map((_, i) => `class ${i}`)));
