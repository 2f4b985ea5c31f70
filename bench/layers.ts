/**
 * The same chapter-14 models in TensorFlow.js layers (tf.model, trainOnBatch
 * with Adam), on the backend given. Stock tfjs cannot train convs on wasm
 * (no Conv2DBackpropFilter), so its best backend here is cpu.
 *   layers.ts --backend cpu --model resnet2 --batch 64 --steps 1 --runs 1
 */
// tfjs-core's Node entry registers no gradients; the library's engine module does.
import * as tf from '../src/tfjs/tf.ts';
import * as tfl from '@tensorflow/tfjs-layers';
import { parseArgs } from 'node:util';
import { report, timeSteps } from './timing.ts';

const { values: a } = parseArgs({
  options: {
    backend: { type: 'string', default: 'cpu' },
    model: { type: 'string', default: 'resnet2' },
    batch: { type: 'string', default: '64' },
    steps: { type: 'string', default: '1' },
    runs: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '1' },
  },
});
if (a.backend === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
await tf.setBackend(a.backend!);

const convLayer = (x: tfl.SymbolicTensor, nf: number, stride = 1, act = true, ks = 3, zero = false): tfl.SymbolicTensor => {
  let y = tfl.layers.conv2d({ filters: nf, kernelSize: ks, strides: stride, padding: 'same', useBias: false, kernelInitializer: 'heNormal' }).apply(
    x,
  ) as tfl.SymbolicTensor;
  y = tfl.layers.batchNormalization({ gammaInitializer: zero ? 'zeros' : 'ones', epsilon: 1e-5, momentum: 0.9 }).apply(y) as tfl.SymbolicTensor;
  return act ? tfl.layers.reLU().apply(y) as tfl.SymbolicTensor : y;
};
const resBlock = (x: tfl.SymbolicTensor, ni: number, nf: number, stride: number): tfl.SymbolicTensor => {
  const convs = convLayer(convLayer(x, nf, stride), nf, 1, false, 3, true);
  let sc = x;
  if (stride !== 1) sc = tfl.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'same' }).apply(sc) as tfl.SymbolicTensor;
  if (ni !== nf) sc = convLayer(sc, nf, 1, false, 1);
  return tfl.layers.reLU().apply(tfl.layers.add().apply([convs, sc])) as tfl.SymbolicTensor;
};
const input = tfl.input({ shape: [28, 28, 1] });
const chans = [1, 16, 32, 64, 128, 256];
let h = input;
for (let i = 1; i < chans.length; i++) {
  h = resBlock(h, chans[i - 1], chans[i], 2);
  if (a.model === 'resnet2') h = resBlock(h, chans[i], chans[i], 1);
}
h = tfl.layers.globalAveragePooling2d({}).apply(h) as tfl.SymbolicTensor;
const out = tfl.layers.dense({ units: 10 }).apply(h) as tfl.SymbolicTensor;
const model = tfl.model({ inputs: input, outputs: out });
model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
const batch = Number(a.batch);
const x = tf.randomNormal([batch, 28, 28, 1]), y = tf.cast(tf.randomUniform([batch, 1], 0, 10, 'int32'), 'float32');
const timing = await timeSteps(() => model.trainOnBatch(x, y), { batch, warmup: Number(a.warmup), steps: Number(a.steps), runs: Number(a.runs) });
report({ engine: `tfjs-layers ${tf.getBackend()}`, model: a.model!, batch, threads: 1 }, timing);
