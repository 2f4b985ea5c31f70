import { tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import {
  adamW, CheckpointError, convLayer, decodeSafetensors, dense, disposeTrainState, encodeCheckpoint, encodeSafetensors, fit,
  fitOneCycle, flatten, initTrainState, loadCheckpoint, loadCheckpointOrThrow, withLabel, prngKey, saveCheckpoint, serial,
  treesEqual,
} from '../mod.ts';
import { writeFileAtomic } from '../src/io/checkpoint.ts';
import { toyData, toyModel } from './fixtures/toy.ts';
import { runScript, scriptCommand } from './fixtures/run.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tsnn-ckpt-'));
const here = (p: string) => new URL(p, import.meta.url).pathname;

describe('safetensors, checked against the format specification', () => {
  const bytes = encodeSafetensors([
    ['a.w', { dtype: 'F32', shape: [2, 2], data: new Float32Array([1, -2, 3.5, 1e-8]) }],
    ['b', { dtype: 'I32', shape: [3], data: new Int32Array([7, -1, 2 ** 30]) }],
    ['s', { dtype: 'F32', shape: [], data: new Float32Array([42]) }],
  ], { step: '12' });

  test('8-byte little-endian header length, space-padded JSON header, offsets into the buffer', () => {
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const n = Number(view.getBigUint64(0, true));
    assert.equal(n % 8, 0, 'header padded to 8 bytes');
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.ok(headerText.startsWith('{'));
    assert.match(headerText, /^\{.*\} *$/);
    const header = JSON.parse(headerText);
    assert.deepEqual(header.__metadata__, { step: '12' });
    assert.deepEqual(header['a.w'], { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] });
    assert.deepEqual(header.b, { dtype: 'I32', shape: [3], data_offsets: [16, 28] });
    assert.deepEqual(header.s, { dtype: 'F32', shape: [], data_offsets: [28, 32] });
    assert.equal(bytes.length, 8 + n + 32, 'the buffer is exactly the tensors, no holes');
    const data = new DataView(bytes.buffer, bytes.byteOffset + 8 + n);
    assert.equal(data.getFloat32(4, true), -2);
    assert.equal(data.getFloat32(12, true), Math.fround(1e-8));
    assert.equal(data.getInt32(16 + 8, true), 2 ** 30);
  });

  test('round trip', () => {
    const r = decodeSafetensors(bytes);
    assert.ok(isRight(r));
    assert.deepEqual(Array.from(r.right.tensors.get('b')!.data), [7, -1, 2 ** 30]);
    assert.deepEqual(r.right.metadata, { step: '12' });
  });

  test('corrupt or truncated files give clear errors', () => {
    const problems = (b: Uint8Array) => {
      const r = decodeSafetensors(b);
      assert.ok(isLeft(r), 'a broken file decoded');
      return r.left.message;
    };
    assert.match(problems(bytes.subarray(0, 5)), /too short for the 8-byte header length/);
    assert.match(problems(bytes.subarray(0, 40)), /runs past the end of the \d+-byte file \(truncated\?\)/);
    assert.match(problems(bytes.subarray(0, bytes.length - 4)), /tensors cover 32 bytes but the data buffer has 28/);
    const huge = bytes.slice();
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    assert.match(problems(huge), /exceeds the 100000000-byte limit/);
    const garbled = bytes.slice();
    garbled[9] = 0x7b; garbled[10] = 0x22; garbled[12] = 0xff;
    assert.match(problems(garbled), /header is not valid UTF-8 JSON/);
    const edit = (f: (h: Record<string, any>) => void) => {
      const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
      const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
      f(h);
      const json = new TextEncoder().encode(JSON.stringify(h));
      const out = new Uint8Array(8 + json.length + 32);
      new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
      out.set(json, 8);
      out.set(bytes.subarray(8 + n), 8 + json.length);
      return out;
    };
    assert.match(problems(edit((h) => (h.b.data_offsets = [20, 32]))), /b: data starts at byte 20, expected 16 \(hole or overlap\)/);
    assert.match(problems(edit((h) => (h.b.dtype = 'F128'))), /b.dtype: expected safetensors dtype, got "F128"/);
    assert.match(problems(edit((h) => (h['a.w'].shape = [2, 3]))), /a.w: data_offsets \[0, 16\] hold 16 bytes, shape \[2, 3\] F32 needs 24/);
    assert.match(problems(edit((h) => (h.__metadata__ = { step: 12 }))), /__metadata__.step: expected string, got 12/);
  });
});

describe('checkpoints', () => {
  const model = toyModel(), opt = adamW(1e-2), inShape = [8, 8, 1];

  test('save then load restores params, state, optimizer state, step, key and config exactly', async () => {
    const file = path.join(tmp(), 'ck.safetensors');
    const { trainState } = await fit(model, toyData(), { epochs: 1, opt, observers: [] });
    saveCheckpoint(file, trainState, { model: 'toy', lrMax: 0.01 });
    const loaded = loadCheckpointOrThrow(file, { model, opt, inShape });
    for (const field of ['params', 'state', 'optState'] as const) assert.ok(treesEqual(loaded.trainState[field], trainState[field]), field);
    assert.equal(loaded.trainState.step, trainState.step);
    assert.deepEqual(loaded.trainState.key, trainState.key);
    assert.deepEqual(loaded.config, { model: 'toy', lrMax: 0.01 });
    disposeTrainState(loaded.trainState);
    disposeTrainState(trainState);
  });

  test('a checkpoint of another model lists every offending path', () => {
    const file = path.join(tmp(), 'other.safetensors');
    const other = serial(withLabel('body', convLayer(1, 6, { stride: 2 })), withLabel('flatten', flatten), withLabel('head', dense({ nf: 3 })), withLabel('extra', dense({ nf: 2 })));
    const ts = initTrainState(other, opt, prngKey(0), inShape);
    saveCheckpoint(file, ts);
    disposeTrainState(ts);
    const before = tf.memory().numTensors;
    const r = loadCheckpoint(file, { model, opt, inShape });
    assert.equal(tf.memory().numTensors, before, 'a failed load leaked tensors');
    assert.ok(isLeft(r));
    const msg = r.left.message;
    assert.ok(r.left instanceof CheckpointError);
    assert.match(msg, /params\.body\.conv\.weight: expected shape \[3, 3, 1, 4\], got \[3, 3, 1, 6\]/);
    assert.match(msg, /state\.body\.bn\.mean: expected shape \[4\], got \[6\]/);
    assert.match(msg, /params\.head\.weight: expected shape \[64, 3\], got \[96, 3\]/);
    assert.match(msg, /params\.extra\.weight: unexpected \(not in the model\)/);
    assert.match(msg, /opt\.0\.mu\.extra\.bias: unexpected/);
    assert.ok(msg.startsWith(`checkpoint '${file}':`));
  });

  test('missing tensors, wrong dtypes, non-finite values and unreadable files are reported', () => {
    const ts = initTrainState(model, opt, prngKey(0), inShape);
    const bytes = encodeCheckpoint(ts);
    disposeTrainState(ts);
    const dir = tmp();
    // Drop one tensor and retype another by rewriting the header.
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    const buf = bytes.subarray(8 + n);
    const keep = names.filter((k) => k !== 'params.head.bias');
    let off = 0;
    const parts: Uint8Array[] = [];
    const h2: Record<string, unknown> = { __metadata__: header.__metadata__ };
    for (const k of keep) {
      const [b, e] = header[k].data_offsets;
      let data = buf.subarray(b, e);
      let dtype = header[k].dtype;
      if (k === 'opt.0.count') dtype = 'F32';
      if (k === 'params.body.bn.gamma') data = new Uint8Array(new Float32Array(data.length / 4).fill(NaN).buffer);
      h2[k] = { dtype, shape: header[k].shape, data_offsets: [off, off + data.length] };
      parts.push(data);
      off += data.length;
    }
    const json = new TextEncoder().encode(JSON.stringify(h2));
    const out = new Uint8Array(8 + json.length + off);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    let pos = 8 + json.length;
    for (const p of parts) (out.set(p, pos), pos += p.length);
    fs.writeFileSync(path.join(dir, 'edited.safetensors'), out);
    const r = loadCheckpoint(path.join(dir, 'edited.safetensors'), { model, opt, inShape });
    assert.ok(isLeft(r));
    assert.match(r.left.message, /params\.head\.bias: missing/);
    assert.match(r.left.message, /opt\.0\.count: expected dtype I32, got F32/);
    assert.match(r.left.message, /params\.body\.bn\.gamma: holds non-finite values/);
    fs.writeFileSync(path.join(dir, 'cut.safetensors'), bytes.subarray(0, bytes.length - 100));
    const cut = loadCheckpoint(path.join(dir, 'cut.safetensors'), { model, opt, inShape });
    assert.ok(isLeft(cut));
    assert.match(cut.left.message, /not a valid safetensors file[\s\S]*truncated or padded file/);
    const none = loadCheckpoint(path.join(dir, 'nope.safetensors'), { model, opt, inShape });
    assert.ok(isLeft(none));
    assert.match(none.left.message, /cannot read: ENOENT/);
  });

  test('writes are atomic: killing a writer mid-save never leaves a partial file', async () => {
    const dir = tmp();
    const file = path.join(dir, 'target.safetensors');
    writeFileAtomic(file, encodeSafetensors([['w', { dtype: 'F32', shape: [1], data: new Float32Array([0]) }]], { fill: '0' }));
    const [cmd, args] = scriptCommand(here('./fixtures/save_forever.ts'), [file]);
    for (const delay of [150, 400, 900]) {
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
        child.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
      });
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await new Promise((r) => child.on('close', r));
      const r = decodeSafetensors(new Uint8Array(fs.readFileSync(file)));
      assert.ok(isRight(r), `after a kill at ${delay} ms the file is broken: ${isLeft(r) ? r.left.message : ''}`);
      const fill = r.right.metadata.fill;
      const w = r.right.tensors.get('w')!.data as Float32Array;
      assert.ok(w.every((v) => String(v) === fill), 'the file mixes two writes');
    }
  });

  test('resume is exact: 2N steps in one run equal N steps, save, load in a new process, N more', async () => {
    const dir = tmp();
    const epochs = 4, data = toyData(); // 8 batches per epoch; stop mid-epoch at step 13
    const full = await fitOneCycle(model, data, { epochs, lrMax: 1e-2, observers: [] });
    const half = await fitOneCycle(model, data, { epochs, lrMax: 1e-2, observers: [], maxSteps: 13 });
    assert.equal(half.trainState.step, 13);
    saveCheckpoint(path.join(dir, 'half.safetensors'), half.trainState);
    disposeTrainState(half.trainState);
    const r = runScript(here('./fixtures/resume.ts'), [path.join(dir, 'half.safetensors'), path.join(dir, 'end.safetensors'), String(epochs)]);
    assert.equal(r.status, 0, `resume process failed:\n${r.stderr}`);
    const end = loadCheckpointOrThrow(path.join(dir, 'end.safetensors'), { model, opt, inShape });
    assert.equal(end.trainState.step, full.trainState.step);
    for (const field of ['params', 'state', 'optState'] as const) {
      assert.ok(treesEqual(end.trainState[field], full.trainState[field]), `${field} differ after resume`);
    }
    disposeTrainState(end.trainState);
    disposeTrainState(full.trainState);
  });
});
