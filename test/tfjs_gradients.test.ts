/**
 * The engine module registers every gradient tfjs-core defines (its Node
 * entry registers none), from a generated file that matches the installed
 * tfjs-core.
 */
import { tf } from './helpers.ts';
import '../src/tfjs/tf.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { scriptCommand } from './fixtures/run.ts';

const coreDist = path.join(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-core/package.json')), 'dist');

/** The kernel names tfjs-core's own gradient sources define a gradient for. */
const definedGradients = (): string[] => {
  const dir = path.join(coreDist, 'gradients');
  const kernelNames = readFileSync(path.join(coreDist, 'kernel_names.js'), 'utf8');
  return [
    ...new Set(
      readdirSync(dir).filter((f) => f.endsWith('_grad.js')).flatMap((f) =>
        [...readFileSync(path.join(dir, f), 'utf8').matchAll(/kernelName: (\w+)/g)].map(([, id]) => {
          const m = kernelNames.match(new RegExp(`export const ${id} = '(\\w+)'`));
          assert.ok(m, `${f}: kernel name ${id} not found in kernel_names.js`);
          return m[1];
        })
      ),
    ),
  ].sort();
};

test('every gradient tfjs-core defines is registered', () => {
  const defined = definedGradients();
  assert.ok(defined.length > 90, `read ${defined.length} gradients from tfjs-core's sources`);
  assert.deepEqual(defined.filter((k) => tf.getGradient(k) === undefined), []);
});

test('gradients run through the shared engine: d/dx sum(x·x) = 2x, and a stride-2 conv gradient equals the transposed conv', () => {
  const before = tf.memory().numTensors;
  const [square, convError] = tf.tidy(() => {
    const x = tf.tensor([1, -2, 3]);
    const img = tf.randomNormal([1, 6, 6, 2], 0, 1, 'float32', 1) as tf.Tensor4D, w = tf.randomNormal([3, 3, 2, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    const dy = tf.randomNormal([1, 3, 3, 4], 0, 1, 'float32', 3) as tf.Tensor4D;
    const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(v as tf.Tensor4D, w, 2, 'same'), dy)))(img);
    const viaTranspose = tf.conv2dTranspose(dy, w, [1, 6, 6, 2], 2, 'same');
    return [Array.from(tf.grad((v: tf.Tensor) => tf.sum(tf.mul(v, v)))(x).dataSync()), tf.max(tf.abs(tf.sub(dx, viaTranspose))).dataSync()[0]!];
  });
  assert.deepEqual(square, [2, -4, 6]);
  assert.ok(convError < 1e-5, `conv gradient differs from conv2dTranspose by ${convError}`);
  assert.equal(tf.memory().numTensors, before);
});

test('the generated gradients file matches the installed tfjs-core (scripts/bundle_gradients.mjs --check)', () => {
  const [cmd, args] = scriptCommand(new URL('../scripts/bundle_gradients.mjs', import.meta.url).pathname, ['--check']);
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});
