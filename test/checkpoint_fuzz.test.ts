/**
 * Hostile-input fuzzing of checkpoint loading: a small real
 * checkpoint (conv, BatchNorm, dense, adamW: params, running statistics,
 * Adam moments and int32 counts), with a byte flipped at every offset under
 * several masks, and cut at every length. Each case must be refused with a
 * CheckpointError: never loaded, never a crash, never a leaked tensor.
 */
import { tf } from './helpers.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isRight } from 'fp-ts/lib/Either.js';
import { adamW, CheckpointError, decodeCheckpoint, disposeTrainState, encodeCheckpoint, initTrainState, prngKey } from '../mod.ts';
import { toyModel } from './fixtures/toy.ts';

const model = toyModel(), opt = adamW(1e-2), inShape = [8, 8, 1];
const template = { model, opt, inShape };

/** A checkpoint whose header ends in padding, so that the padding is fuzzed too. */
const checkpoint = async (): Promise<Uint8Array> => {
  const ts = initTrainState(model, opt, prngKey(7), inShape);
  try {
    for (let k = 0;; k++) {
      const bytes = await encodeCheckpoint(ts, { model: 'toy', act: 'relu', pad: 'x'.repeat(k) });
      const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      if (bytes[8 + n - 1] === 0x20) return bytes;
    }
  } finally {
    disposeTrainState(ts);
  }
};

/** Decode one mutated file; a problem if it loads or throws anything but a CheckpointError. */
const verdict = (what: string, bytes: Uint8Array): string | undefined => {
  let r;
  try {
    r = decodeCheckpoint(what, bytes, template);
  } catch (e) {
    return `${what}: threw ${(e as Error).stack ?? e}`;
  }
  if (isRight(r)) {
    disposeTrainState(r.right.trainState);
    return `${what}: loaded`;
  }
  if (!(r.left instanceof CheckpointError) || r.left.file !== what) return `${what}: refused with a ${r.left}`;
  return undefined;
};

const MASKS = [0x01, 0x02, 0x20, 0x80, 0xff];

test('fuzz: a byte flipped at every offset (5 masks) or a cut at every length is always a CheckpointError', async () => {
  const bytes = await checkpoint();
  const intact = decodeCheckpoint('intact', bytes, template);
  assert.ok(isRight(intact), 'the unmutated checkpoint loads');
  disposeTrainState(intact.right.trainState);
  const before = tf.memory().numTensors;
  const failures: string[] = [];
  let flips = 0, cuts = 0;
  for (const mask of MASKS) {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes.slice();
      b[i] ^= mask;
      flips++;
      const p = verdict(`flip ${i} ^ 0x${mask.toString(16)}`, b);
      if (p) failures.push(p);
    }
  }
  for (let len = 0; len < bytes.length; len++, cuts++) {
    const p = verdict(`cut at ${len}`, bytes.slice(0, len));
    if (p) failures.push(p);
  }
  // Appended bytes too: a file is exactly its header and tensors.
  for (const extra of [[0], [0x20], [1, 2, 3, 4]]) {
    const p = verdict(`append ${extra.length}`, new Uint8Array([...bytes, ...extra]));
    if (p) failures.push(p);
  }
  console.log(`checkpoint fuzz: ${bytes.length}-byte file, ${flips} flips, ${cuts} cuts, 3 appends, ${failures.length} failures`);
  assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${flips + cuts + 3} cases were not refused`);
  assert.equal(tf.memory().numTensors, before, 'refused loads leaked tensors');
});
