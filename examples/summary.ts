/**
 * Build the chapter-14 models, print their summaries, and run one forward pass.
 *
 *   node --import tsx examples/summary.ts      (or: deno run -A examples/summary.ts)
 */
import * as tf from '@tensorflow/tfjs-core';
import { disposeTree, formatSummary, plainNet, prngKey, resNet, resNet2, summary } from '../mod.ts';

await tf.setBackend('cpu');

for (const [name, build] of [['plainNet', plainNet], ['resNet', resNet], ['resNet2', resNet2]] as const) {
  const model = build({ nIn: 1, nClasses: 10 });
  console.log(`\n== ${name} ==`);
  console.log(formatSummary(summary(model, [28, 28, 1])));
  const { params, state } = model.init(prngKey(0), [28, 28, 1]);
  const logits = tf.tidy(() => model.apply(params, state, tf.randomNormal([4, 28, 28, 1], 0, 1, 'float32', 1), { training: false }).y as tf.Tensor);
  console.log(`forward pass on [4, 28, 28, 1] -> [${logits.shape.join(', ')}]`);
  logits.dispose();
  disposeTree(params);
  disposeTree(state);
}
