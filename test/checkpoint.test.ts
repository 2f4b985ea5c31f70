import { tf } from './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { type Either, isLeft, isRight } from 'fp-ts/lib/Either.js';
import {
  adamW,
  CheckpointError,
  ConfigError,
  convLayer,
  decodeCheckpoint,
  decodeSafetensors,
  dense,
  disposeTrainState,
  encodeCheckpoint,
  encodeSafetensors,
  fit,
  fitOneCycle,
  flatten,
  initTrainState,
  type Loaded,
  prngKey,
  SafetensorsError,
  serial,
  treesEqual,
  withLabel,
} from '../mod.ts';
import { loadCheckpoint, loadCheckpointOrThrow, saveCheckpoint } from '../node.ts';
import { atomicWriter, type FileOps, hostTag, STALE_AFTER_MS, writeFileAtomic } from '../src/io/atomic_write.ts';
import { stampChecksum } from '../src/io/checksum.ts';
import { toyData, toyModel } from './fixtures/toy.ts';
import { runScript, scriptCommand } from './fixtures/run.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'tsnn-ckpt-'));
const here = (p: string) => new URL(p, import.meta.url).pathname;
/** Run `f` in a fresh temporary folder, removed afterwards whatever happens. */
const withDir = async <T>(f: (dir: string) => T | Promise<T>): Promise<T> => {
  const dir = tmp();
  try {
    return await f(dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
};
const temps = (dir: string) => fs.readdirSync(dir).filter((n) => n.endsWith('.tmp'));

/** A safetensors file from a header written as text (key order kept) and a data buffer. */
const rawFile = (header: string, data: Uint8Array = new Uint8Array(0)): Uint8Array => {
  const json = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
};

/**
 * Edit a checkpoint's header (as parsed JSON) and data, re-encode it, and by
 * default re-stamp its checksum, so that the result is intact and only the
 * edit is wrong: this is how the domain checks are reached past the checksum.
 */
const rewrite = (bytes: Uint8Array, edit: (h: Record<string, any>, data: Uint8Array) => Uint8Array | void, restamp = true): Uint8Array => {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const data = edit(h, bytes.slice(8 + n)) ?? bytes.slice(8 + n);
  const json = JSON.stringify(h);
  const out = rawFile(json + ' '.repeat((8 - (json.length % 8)) % 8), data);
  return restamp && h.__metadata__?.checksum !== undefined ? stampChecksum(out) : out;
};
/** Where tensor `name`'s values lie in a checkpoint's bytes. */
const valuesOf = (bytes: Uint8Array, name: string) => {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const e = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)))[name];
  return new DataView(bytes.buffer, bytes.byteOffset + 8 + n + e.data_offsets[0], e.data_offsets[1] - e.data_offsets[0]);
};

/** Assert a load was refused with a CheckpointError naming `file` and matching `pattern`, leaking no tensors. */
const refused = (load: () => Either<CheckpointError, Loaded>, file: string, pattern: RegExp): CheckpointError => {
  const before = tf.memory().numTensors;
  const r = load();
  if (isRight(r)) {
    disposeTrainState(r.right.trainState);
    assert.fail(`loaded, but expected a refusal matching ${pattern}`);
  }
  assert.equal(tf.memory().numTensors, before, 'a failed load leaked tensors');
  assert.ok(r.left instanceof CheckpointError);
  assert.ok(r.left.message.startsWith(`checkpoint '${file}':`), r.left.message);
  assert.match(r.left.message, pattern);
  return r.left;
};

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
    garbled[9] = 0x7b;
    garbled[10] = 0x22;
    garbled[12] = 0xff;
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

describe('safetensors, read as the reference implementation reads it', () => {
  const f32 = (n: number) => `{"dtype":"F32","shape":[${n}],"data_offsets":`;
  const accepted = (bytes: Uint8Array) => {
    const r = decodeSafetensors(bytes);
    assert.ok(isRight(r), isLeft(r) ? r.left.message : '');
    return r.right;
  };
  const rejected = (bytes: Uint8Array, pattern: RegExp) => {
    const r = decodeSafetensors(bytes);
    assert.ok(isLeft(r), `accepted, expected ${pattern}`);
    assert.ok(r.left instanceof SafetensorsError);
    assert.match(r.left.message, pattern);
  };

  test('a zero-size tensor may share its offset with the next one, whichever comes first in the header', () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3, 4]).buffer);
    for (
      const header of [
        `{"a":${f32(4)}[0,16]},"z":${f32(0)}[0,0]}}`,
        `{"z":${f32(0)}[0,0]},"a":${f32(4)}[0,16]}}`,
        `{"a":${f32(2)}[0,8]},"b":${f32(2)}[8,16]},"y":${f32(0)}[8,8]},"z":${f32(0)}[16,16]}}`,
      ]
    ) {
      const st = accepted(rawFile(header, data));
      assert.deepEqual(Array.from(st.tensors.get('z')!.data), []);
    }
  });

  test('integer-like names (which JS objects move first) do not reorder the header', () => {
    // JSON.parse enumerates "5" before "w" and "z": sorting on start alone put [16,32] before [16,16].
    const st = accepted(rawFile(`{"w":${f32(4)}[0,16]},"z":${f32(0)}[16,16]},"5":${f32(4)}[16,32]}}`, new Uint8Array(32)));
    assert.deepEqual([...st.tensors.keys()], ['w', 'z', '5'], 'tensors come in file order');
    // The writer keeps such names, and names an object would misread, in the order given.
    const t1 = { dtype: 'F32', shape: [1], data: new Float32Array([1]) } as const;
    const names = ['__proto__', 'constructor', '10', '2', 'toString'];
    const back = accepted(encodeSafetensors(names.map((n) => [n, t1])));
    assert.deepEqual([...back.tensors.keys()], names);
  });

  test('whitespace around the header, a null __metadata__, and every reference dtype are accepted', () => {
    assert.equal(accepted(rawFile('\t\n{}\r ')).tensors.size, 0);
    assert.deepEqual(accepted(rawFile('{"__metadata__":null}')).metadata, {});
    const r = decodeSafetensors(rawFile(`{"h":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}`, new Uint8Array(2)));
    assert.ok(isLeft(r));
    assert.match(r.left.message, /h: dtype F8_E4M3 is valid safetensors but not supported here/);
  });

  test('what the reference refuses is refused', () => {
    rejected(rawFile('[]'), /header does not start with '\{'/);
    rejected(rawFile('\ufeff{}'), /header does not start with '\{'/);
    rejected(rawFile(`{"a":${f32(1)}[0,4,8]}}`, new Uint8Array(4)), /a\.data_offsets: expected \[begin, end\]/);
    rejected(rawFile(`{"a":${f32(1)}[0,4]},"b":${f32(1)}[8,12]}}`, new Uint8Array(12)), /b: data starts at byte 8, expected 4 \(hole or overlap\)/);
    rejected(rawFile(`{"a":${f32(2)}[0,8]},"b":${f32(1)}[4,8]}}`, new Uint8Array(8)), /b: data starts at byte 4, expected 8 \(hole or overlap\)/);
    rejected(rawFile(`{"a":${f32(1)}[0,4]}}`, new Uint8Array(5)), /tensors cover 4 bytes but the data buffer has 5/);
    rejected(rawFile(`{"a":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}`, new Uint8Array(16)), /a: shape .* I32 overflows/);
    rejected(rawFile(`{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}`, new Uint8Array(1)), /a: shape \[3\] F4 is 12 bits, not a whole number of bytes/);
    rejected(rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, new Uint8Array(4)), /a\.shape\.0: expected non-negative integer, got -1/);
    rejected(rawFile(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, new Uint8Array(4)), /a\.shape\.0: expected non-negative integer, got 1\.5/);
  });

  test('an error lists the first 20 of 100,000 problems, not megabytes of them', () => {
    const header = `{${Array.from({ length: 100_000 }, (_, i) => `"bogus.${i}":{"dtype":"F32","shape":[1],"data_offsets":[0,1]}`).join(',')}}`;
    const bytes = rawFile(header);
    const r = decodeSafetensors(bytes);
    assert.ok(isLeft(r));
    assert.ok(r.left.problems.length >= 100_000, 'every problem stays in .problems');
    assert.match(r.left.message, /; …and \d+ more$/);
    assert.ok(r.left.message.length < 5_000, `message is ${r.left.message.length} characters`);
    const e = refused(() => decodeCheckpoint('bogus', bytes, { model: toyModel(), opt: adamW(1e-2), inShape: [8, 8, 1] }), 'bogus', /…and \d+ more$/);
    assert.ok(e.message.length < 5_000, `message is ${e.message.length} characters`);
    // One enormous name is clipped too.
    const long = decodeSafetensors(rawFile(`{"${'x'.repeat(1_000_000)}":1}`));
    assert.ok(isLeft(long) && long.left.message.length < 1_000);
  });
});

describe('checkpoints', () => {
  const model = toyModel(), opt = adamW(1e-2), inShape = [8, 8, 1];
  const template = { model, opt, inShape };
  const freshBytes = async (config: unknown = null) => {
    const ts = initTrainState(model, opt, prngKey(0), inShape);
    const bytes = await encodeCheckpoint(ts, config);
    disposeTrainState(ts);
    return bytes;
  };

  test('save then load restores params, state, optimizer state, step, key and config exactly', () =>
    withDir(async (dir) => {
      const file = path.join(dir, 'ck.safetensors');
      const { trainState } = await fit(model, toyData(), { epochs: 1, opt, observers: [] });
      await saveCheckpoint(file, trainState, { model: 'toy', lrMax: 0.01 });
      const loaded = loadCheckpointOrThrow(file, template);
      for (const field of ['params', 'state', 'optState'] as const) assert.ok(treesEqual(loaded.trainState[field], trainState[field]), field);
      assert.equal(loaded.trainState.step, trainState.step);
      assert.deepEqual(loaded.trainState.key, trainState.key);
      assert.deepEqual(loaded.config, { model: 'toy', lrMax: 0.01 });
      disposeTrainState(loaded.trainState);
      disposeTrainState(trainState);
    }));

  test('bytes in a Node Buffer at any offset decode to copies, not views of it', async () => {
    const bytes = await freshBytes();
    const ref = decodeCheckpoint('aligned', bytes, template);
    assert.ok(isRight(ref));
    for (const shift of [1, 2, 3]) {
      const buf = Buffer.concat([Buffer.alloc(shift), bytes]).subarray(shift);
      const r = decodeCheckpoint('buffer', buf, template);
      assert.ok(isRight(r), isLeft(r) ? r.left.message : '');
      assert.ok(treesEqual(r.right.trainState.params, ref.right.trainState.params));
      buf.fill(0);
      assert.ok(treesEqual(r.right.trainState.params, ref.right.trainState.params), 'the tensors alias the input');
      disposeTrainState(r.right.trainState);
      const st = decodeSafetensors(Buffer.concat([Buffer.alloc(shift), bytes]).subarray(shift));
      assert.ok(isRight(st));
      assert.deepEqual(Array.from(st.right.tensors.get('opt.0.count')!.data), [0]);
    }
    disposeTrainState(ref.right.trainState);
  });

  test('a checkpoint of another model lists every offending path', () =>
    withDir(async (dir) => {
      const file = path.join(dir, 'other.safetensors');
      const other = serial(
        withLabel('body', convLayer(1, 6, { stride: 2 })),
        withLabel('flatten', flatten),
        withLabel('head', dense({ nf: 3 })),
        withLabel('extra', dense({ nf: 2 })),
      );
      const ts = initTrainState(other, opt, prngKey(0), inShape);
      await saveCheckpoint(file, ts);
      disposeTrainState(ts);
      const e = refused(() => loadCheckpoint(file, template), file, /params\.body\.conv\.weight: expected shape \[3, 3, 1, 4\], got \[3, 3, 1, 6\]/);
      assert.match(e.message, /state\.body\.bn\.mean: expected shape \[4\], got \[6\]/);
      assert.match(e.message, /params\.head\.weight: expected shape \[64, 3\], got \[96, 3\]/);
      assert.match(e.message, /params\.extra\.weight: unexpected \(not in the model\)/);
      assert.ok(e.problems.some((p) => /opt\.0\.mu\.extra\.bias: unexpected/.test(p)));
    }));

  test('missing tensors, wrong dtypes, non-finite values and unreadable files are reported', () =>
    withDir(async (dir) => {
      const bytes = await freshBytes();
      // Drop one tensor, retype another, fill a third with NaN (the checksum is re-stamped: only these edits are wrong).
      const edited = rewrite(bytes, (h, data) => {
        const { data_offsets: [b, e] } = h['params.head.bias'];
        delete h['params.head.bias'];
        // Close the hole the dropped tensor leaves: every later offset moves down.
        for (const k of Object.keys(h)) {
          if (k !== '__metadata__' && h[k].data_offsets[0] >= e) h[k].data_offsets = h[k].data_offsets.map((o: number) => o - (e - b));
        }
        h['opt.0.count'].dtype = 'F32';
        const g = h['params.body.bn.gamma'].data_offsets;
        new Float32Array(data.buffer, g[0], (g[1] - g[0]) / 4).fill(NaN);
        return new Uint8Array([...data.subarray(0, b), ...data.subarray(e)]);
      });
      const file = path.join(dir, 'edited.safetensors');
      fs.writeFileSync(file, edited);
      const e = refused(() => loadCheckpoint(file, template), file, /params\.head\.bias: missing/);
      assert.match(e.message, /opt\.0\.count: expected dtype I32, got F32/);
      assert.match(e.message, /params\.body\.bn\.gamma: holds non-finite values/);
      const cut = path.join(dir, 'cut.safetensors');
      fs.writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
      refused(() => loadCheckpoint(cut, template), cut, /not a valid safetensors file[\s\S]*truncated or padded file/);
      const none = path.join(dir, 'nope.safetensors');
      refused(() => loadCheckpoint(none, template), none, /cannot read: ENOENT/);
      refused(() => loadCheckpoint(dir, template), dir, /cannot read: (not a regular file|EISDIR)/);
    }));

  test('a FIFO or a device is refused at once, not read (or waited on) forever', () =>
    withDir((dir) => {
      const fifo = path.join(dir, 'fifo.safetensors');
      const made = spawnSync('mkfifo', [fifo], { encoding: 'utf8' });
      assert.equal(made.status, 0, `mkfifo failed: ${made.stderr}`);
      refused(() => loadCheckpoint(fifo, template), fifo, /cannot read: not a regular file/);
      refused(() => loadCheckpoint('/dev/zero', template), '/dev/zero', /cannot read: not a regular file/);
    }));

  test('a state that loading would refuse is not saved, and the file already there is kept', () =>
    withDir(async (dir) => {
      const file = path.join(dir, 'ck.safetensors');
      const ts = initTrainState(model, opt, prngKey(0), [8, 8, 1]);
      await saveCheckpoint(file, ts);
      const good = fs.readFileSync(file);
      const state = ts.state as { body: { bn: { var: tf.Tensor; mean: tf.Tensor } } };
      const cases: [string, Record<string, unknown>, RegExp][] = [
        [
          'a NaN mean',
          { state: { ...ts.state, body: { ...state.body, bn: { ...state.body.bn, mean: tf.fill(state.body.bn.mean.shape, NaN) } } } },
          /state\.body\.bn\.mean: holds non-finite values/,
        ],
        [
          'a negative variance',
          { state: { ...ts.state, body: { ...state.body, bn: { ...state.body.bn, var: tf.fill(state.body.bn.var.shape, -1) } } } },
          /state\.body\.bn\.var: expected a running variance, ≥ 0, got -1/,
        ],
        ['a fractional step', { step: 1.5 }, /saveCheckpoint\.trainState\.step: expected non-negative integer, got 1\.5/],
        ['a config with NaN', {}, /saveCheckpoint\.config: expected a JSON value/],
      ];
      for (const [what, change, pattern] of cases) {
        const bad = { ...ts, ...change } as typeof ts;
        await assert.rejects(() => saveCheckpoint(file, bad, what === 'a config with NaN' ? { lr: NaN } : null), (e: unknown) =>
          e instanceof ConfigError && pattern.test(e.message), what);
        assert.deepEqual(fs.readFileSync(file), good, `${what}: the saved file changed`);
        assert.deepEqual(temps(dir), [], `${what}: a temporary file was left`);
        const made = (change.state as { body?: { bn?: Record<string, tf.Tensor> } } | undefined)?.body?.bn;
        if (made) {
          Object.values(made).filter((t) =>
            !Object.values(state.body.bn).includes(t)
          ).forEach((t) => t.dispose());
        }
      }
      disposeTrainState(ts);
    }));

  test('every flipped data byte is refused: a checksum covers the file', () =>
    withDir(async (dir) => {
      const bytes = await freshBytes();
      const dataStart = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
      const file = path.join(dir, 'flipped.safetensors');
      for (let k = 0; k < 15; k++) {
        const b = bytes.slice();
        b[dataStart + Math.floor((k * (b.length - dataStart - 1)) / 14)] ^= 0x01;
        fs.writeFileSync(file, b);
        refused(() => loadCheckpoint(file, template), file, /checksum mismatch: the file says crc32:[0-9a-f]{8}, its bytes give crc32:[0-9a-f]{8}/);
      }
    }));

  test('a header flip that turns "relu" into "belu" in the config is refused', () =>
    withDir(async (dir) => {
      const bytes = await freshBytes({ act: 'relu' });
      const at = Buffer.from(bytes).indexOf('relu');
      assert.ok(at > 0);
      bytes[at] ^= 0x10; // 'r' -> 'b'
      assert.equal(new TextDecoder().decode(bytes.subarray(at, at + 4)), 'belu');
      const file = path.join(dir, 'belu.safetensors');
      fs.writeFileSync(file, bytes);
      refused(() => loadCheckpoint(file, template), file, /checksum mismatch/);
    }));

  test('a flip in the header padding, a key name, the checksum digits or the length prefix is refused', async () => {
    // A config whose header needs padding, so that there are spaces to flip.
    const bytes = (await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((k) => freshBytes({ pad: 'x'.repeat(k) })))).find((b) => {
      const n = Number(new DataView(b.buffer).getBigUint64(0, true));
      return b[8 + n - 1] === 0x20;
    })!;
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const text = new TextDecoder().decode(bytes.subarray(0, 8 + n));
    const digits = text.indexOf('crc32:') + 6;
    const letter = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => digits + k).find((p) => /[a-f]/.test(text[p]));
    const mismatch = /checksum mismatch/;
    const cases: [string, number, number, RegExp][] = [
      ['padding space to tab (still valid JSON)', 8 + n - 1, 0x29, mismatch],
      ['a key name', text.indexOf('params.head.weight') + 7, 0x01, /params\.iead\.weight: unexpected|checksum mismatch/],
      ['the first checksum digit', digits, 0x01, mismatch],
      ...(letter === undefined ? [] : [['a checksum digit to upper case', letter, 0x20, /malformed checksum field/] as [string, number, number, RegExp]]),
      ['the checksum field name', text.indexOf('"checksum"') + 2, 0x01, /checksum/],
      ['the version, 2 to 1', text.indexOf('"version":"2"') + 11, 0x03, mismatch],
      ['the length prefix', 0, 0x08, /header/],
    ];
    assert.equal(text[8 + n - 1], ' ');
    assert.equal(text[text.indexOf('"version":"2"') + 11], '2');
    for (const [what, at, mask, why] of cases) {
      const b = bytes.slice();
      b[at] ^= mask;
      refused(() => decodeCheckpoint(what, b, template), what, why);
    }
  });

  test('values outside their domain are refused even in an intact file: variance < 0, count < 0, second moment < 0', async () => {
    const bytes = await freshBytes();
    const cases: [string, (v: DataView) => void, RegExp][] = [
      ['state.body.bn.var', (v) => v.setFloat32(8, -5, true), /state\.body\.bn\.var: expected a running variance, ≥ 0, got -5 at index 2/],
      ['opt.0.count', (v) => v.setInt32(0, -7, true), /opt\.0\.count: expected a step count, ≥ 0, got -7 at index 0/],
      ['opt.2.count', (v) => v.setInt32(0, -1, true), /opt\.2\.count: expected a step count, ≥ 0, got -1 at index 0/],
      ['opt.0.nu.head.bias', (v) => v.setFloat32(0, -1, true), /opt\.0\.nu\.head\.bias: expected a second moment, ≥ 0, got -1 at index 0/],
    ];
    for (const [name, poke, pattern] of cases) {
      const b = bytes.slice();
      poke(valuesOf(b, name));
      refused(() => decodeCheckpoint(name, stampChecksum(b), template), name, pattern);
    }
  });

  test('metadata.step must be a non-negative integer in canonical decimal: "" is not step 0', async () => {
    const bytes = await freshBytes();
    for (const step of ['', ' 1', '1 ', '1e3', '-0', '-1', '01', '1.5', '0x10', '9007199254740993']) {
      const b = rewrite(bytes, (h) => {
        h.__metadata__.step = step;
      });
      refused(() => decodeCheckpoint(`step ${step}`, b, template), `step ${step}`, /metadata\.step: expected a non-negative integer in decimal, got/);
    }
    for (const step of ['0', '13', '9007199254740991']) {
      const r = decodeCheckpoint(
        'ok',
        rewrite(bytes, (h) => {
          h.__metadata__.step = step;
        }),
        template,
      );
      assert.ok(isRight(r), isLeft(r) ? r.left.message : '');
      assert.equal(r.right.trainState.step, Number(step));
      disposeTrainState(r.right.trainState);
    }
  });

  test('the format version is checked; version-1 files (no checksum) still load; a checksum, if present, is always verified', async () => {
    const bytes = await freshBytes({ model: 'toy' });
    for (const version of ['3', '0', '', '2.0']) {
      const b = rewrite(bytes, (h) => {
        h.__metadata__.version = version;
      });
      refused(
        () => decodeCheckpoint('v', b, template),
        'v',
        new RegExp(`metadata\\.version: expected '2' \\(or '1', written before checksums\\), got "${version.replace('.', '\\.')}"`),
      );
    }
    refused(
      () =>
        decodeCheckpoint(
          'v',
          rewrite(bytes, (h) => {
            delete h.__metadata__.version;
          }),
          template,
        ),
      'v',
      /metadata\.version: .*got nothing/,
    );
    refused(
      () =>
        decodeCheckpoint(
          'f',
          rewrite(bytes, (h) => {
            h.__metadata__.format = 'other';
          }),
          template,
        ),
      'f',
      /metadata\.format: expected 'tsnn-checkpoint', got "other"/,
    );
    // Version 2 without its checksum field is refused.
    refused(
      () =>
        decodeCheckpoint(
          'nosum',
          rewrite(bytes, (h) => {
            delete h.__metadata__.checksum;
          }),
          template,
        ),
      'nosum',
      /metadata\.checksum: no checksum field/,
    );
    // A version-1 file, as the previous code wrote it, loads.
    const v1 = rewrite(bytes, (h) => {
      delete h.__metadata__.checksum;
      h.__metadata__.version = '1';
    });
    const r = decodeCheckpoint('v1', v1, template);
    assert.ok(isRight(r), isLeft(r) ? r.left.message : '');
    assert.deepEqual(r.right.config, { model: 'toy' });
    disposeTrainState(r.right.trainState);
    // ...but a version-1 file that carries a checksum is held to it.
    const v1sum = rewrite(bytes, (h) => {
      h.__metadata__.version = '1';
    }, false);
    refused(() => decodeCheckpoint('v1sum', v1sum, template), 'v1sum', /checksum mismatch/);
  });

  test('loadCheckpoint reads the header first: a 300 MB sparse file with a bogus header is refused without reading it', () =>
    withDir((dir) => {
      const maxRss = () => process.resourceUsage().maxRSS * 1024;
      const big = 300_000_000;
      const meta = '"__metadata__":{"format":"tsnn-checkpoint","version":"2","step":"0","key":"[1,2]","config":"null","checksum":"crc32:00000000"}';
      const headers: [string, string, RegExp][] = [
        ['offsets that do not cover the file', '{}', /tensors cover 0 bytes but the data buffer has 300000000/],
        ['a valid header for another model', `{${meta},"x":{"dtype":"U8","shape":[${big}],"data_offsets":[0,${big}]}}`, /params\.body\.bn\.beta: missing/],
      ];
      for (const [what, header, pattern] of headers) {
        const file = path.join(dir, 'sparse.safetensors');
        const head = rawFile(header + ' '.repeat((8 - (header.length % 8)) % 8));
        fs.writeFileSync(file, head);
        fs.truncateSync(file, head.length + big);
        const rss = maxRss(), t0 = performance.now();
        refused(() => loadCheckpoint(file, template), file, pattern);
        const ms = performance.now() - t0, grew = maxRss() - rss;
        assert.ok(ms < 1000, `${what}: refused in ${ms.toFixed(0)} ms`);
        assert.ok(grew < 100e6, `${what}: peak memory grew by ${(grew / 1e6).toFixed(0)} MB`);
      }
      // A header length past the 16 MiB bound is refused from the first 8 bytes.
      const file = path.join(dir, 'long.safetensors');
      const b = rawFile('{}      ');
      new DataView(b.buffer).setBigUint64(0, 200_000_000n, true);
      fs.writeFileSync(file, b);
      fs.truncateSync(file, 8 + 200_000_000);
      refused(() => loadCheckpoint(file, template), file, /header length 200000000 exceeds the 16777216-byte limit/);
    }));

  test('writes are atomic: killing a writer mid-save never leaves a partial file, and the next save removes its temporary file', () =>
    withDir(async (dir) => {
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
      // A writer killed mid-save leaves its temporary file; the next save to the target removes it (its pid is dead).
      fs.writeFileSync(path.join(dir, `.target.safetensors.${hostTag}.${spawnSync(process.execPath, ['--version']).pid}.${randomUUID()}.tmp`), 'partial');
      writeFileAtomic(file, new Uint8Array(8));
      assert.deepEqual(temps(dir), []);
    }));

  test('two threads of one process saving to one path never collide', () =>
    withDir(async (dir) => {
      const file = path.join(dir, 'shared.bin');
      const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined';
      const threads = 3, saves = 150;
      const flag = new SharedArrayBuffer(4);
      // Each thread imports the library, waits for the others, then saves in a loop.
      const code = `
      const { parentPort, workerData: w } = require('node:worker_threads');
      (async () => {
        if (w.tsx) (await import(w.tsx)).register();
        const { writeFileAtomic } = await import(w.module);
        const flag = new Int32Array(w.flag);
        Atomics.add(flag, 0, 1);
        while (Atomics.load(flag, 0) < w.threads) Atomics.wait(flag, 0, Atomics.load(flag, 0), 10);
        const errors = [], bytes = new Uint8Array(64).fill(w.id);
        for (let i = 0; i < w.saves; i++) try { writeFileAtomic(w.file, bytes); } catch (e) { errors.push(e.message); }
        parentPort.postMessage(errors);
      })().catch((e) => parentPort.postMessage(['thread failed: ' + e.stack]));`;
      const module = new URL('../src/io/atomic_write.ts', import.meta.url).href;
      const tsx = isDeno ? null : import.meta.resolve('tsx/esm/api');
      const workers = Array.from({ length: threads }, (_, id) =>
        new Worker(code, { eval: true, workerData: { tsx, module, file, flag, threads, saves, id: id + 1 } }));
      try {
        const errors = (await Promise.all(workers.map((w) =>
          new Promise<string[]>((resolve, reject) => (w.once('message', resolve), w.once('error', reject)))
        ))).flat();
        assert.deepEqual(errors.slice(0, 5), [], `${errors.length} of ${threads * saves} saves failed`);
      } finally {
        await Promise.all(workers.map((w) => w.terminate()));
      }
      const final = fs.readFileSync(file);
      assert.ok(final.length === 64 && final.every((v) => v === final[0]), 'the file mixes two writes');
      assert.deepEqual(temps(dir), []);
    }));

  test('a failed save leaves no temporary file, whichever step fails', () =>
    withDir((dir) => {
      const file = path.join(dir, 'target.bin');
      writeFileAtomic(file, new Uint8Array([1, 2, 3]));
      const real: FileOps = {
        openSync: fs.openSync,
        writeSync: fs.writeSync,
        fsyncSync: fs.fsyncSync,
        closeSync: fs.closeSync,
        renameSync: fs.renameSync,
        rmSync: fs.rmSync,
        mkdirSync: fs.mkdirSync,
        readdirSync: fs.readdirSync,
        statSync: fs.statSync,
      };
      const boom = (op: string) => Object.assign(new Error(`${op} failed`), { code: 'EIO' });
      const failing: Record<string, Partial<FileOps>> = {
        openSync: {
          openSync: ((...a: Parameters<typeof fs.openSync>) => (a[1] === 'wx'
            ? (() => {
              throw boom('openSync');
            })()
            : fs.openSync(...a))) as FileOps['openSync'],
        },
        // Half the bytes land, then the disk fills.
        writeSync: {
          writeSync: ((fd: number, b: Uint8Array, off: number, len: number) => (off === 0 ? fs.writeSync(fd, b, 0, Math.ceil(len / 2)) : (() => {
            throw boom('writeSync');
          })())) as FileOps['writeSync'],
        },
        fsyncSync: {
          fsyncSync: () => {
            throw boom('fsyncSync');
          },
        },
        closeSync: {
          closeSync: (fd: number) => {
            fs.closeSync(fd);
            throw boom('closeSync');
          },
        },
        renameSync: {
          renameSync: () => {
            throw boom('renameSync');
          },
        },
      };
      for (const [op, override] of Object.entries(failing)) {
        assert.throws(() => atomicWriter({ ...real, ...override } as FileOps)(file, new Uint8Array(1000).fill(7)), new RegExp(`${op} failed`));
        assert.deepEqual(temps(dir), [], `after a failed ${op}`);
        assert.deepEqual([...fs.readFileSync(file)], [1, 2, 3], `after a failed ${op} the old file is intact`);
      }
      // A real failed rename: the target is a folder that is not empty.
      const folder = path.join(dir, 'folder');
      fs.mkdirSync(folder);
      fs.writeFileSync(path.join(folder, 'x'), 'x');
      assert.throws(() => writeFileAtomic(folder, new Uint8Array(10)));
      assert.deepEqual(temps(dir), []);
    }));

  test("stale temporary files of dead writers are removed by the next save; live writers' and other targets' are kept", () =>
    withDir((dir) => {
      const target = 't.safetensors';
      const dead = spawnSync(process.execPath, ['--version']).pid!;
      const other = hostTag === 'eeeeeeee' ? 'ffffffff' : 'eeeeeeee';
      const old = (Date.now() - STALE_AFTER_MS - 60_000) / 1000;
      const files: [string, boolean, number?][] = [ // name, removed?, mtime
        [`.${target}.${hostTag}.${dead}.${randomUUID()}.tmp`, true], // its writer is dead
        [`.${target}.${hostTag}.${process.pid}.${randomUUID()}.tmp`, false], // another thread of this process, writing now
        [`.${target}.${hostTag}.${process.ppid}.${randomUUID()}.tmp`, false], // a live process
        [`.${target}.${other}.${dead}.${randomUUID()}.tmp`, false], // another host: its pid says nothing
        [`.${target}.${other}.${dead}.${randomUUID()}.tmp`, true, old], // ...until untouched for an hour
        [`.${target}.${hostTag}.${process.pid}.${randomUUID()}.tmp`, true, old],
        [`.${target}.12345.1700000000000.tmp`, true, old], // the previous naming
        [`.${target}.12345.1700000000001.tmp`, false],
        [`.other.safetensors.${hostTag}.${dead}.${randomUUID()}.tmp`, false], // another target
        [`.${target}.x.${hostTag}.${dead}.${randomUUID()}.tmp`, false], // the target 't.safetensors.x'
        [`.${target}.${hostTag}.${dead}.not-a-uuid.tmp`, false],
        [`${target}.bak`, false],
      ];
      for (const [name, , mtime] of files) {
        fs.writeFileSync(path.join(dir, name), 'partial');
        if (mtime) fs.utimesSync(path.join(dir, name), mtime, mtime);
      }
      writeFileAtomic(path.join(dir, target), new Uint8Array(8));
      const left = new Set(fs.readdirSync(dir));
      for (const [name, removed] of files) assert.equal(!left.has(name), removed, `${name} should be ${removed ? 'removed' : 'kept'}`);
      assert.ok(left.has(target));
    }));

  test('resume is exact: 2N steps in one run equal N steps, save, load in a new process, N more', () =>
    withDir(async (dir) => {
      const epochs = 4, data = toyData(); // 8 batches per epoch; stop mid-epoch at step 13
      const full = await fitOneCycle(model, data, { epochs, lrMax: 1e-2, observers: [] });
      const half = await fitOneCycle(model, data, { epochs, lrMax: 1e-2, observers: [], maxSteps: 13 });
      assert.equal(half.trainState.step, 13);
      await saveCheckpoint(path.join(dir, 'half.safetensors'), half.trainState);
      disposeTrainState(half.trainState);
      const r = runScript(here('./fixtures/resume.ts'), [path.join(dir, 'half.safetensors'), path.join(dir, 'end.safetensors'), String(epochs)]);
      assert.equal(r.status, 0, `resume process failed:\n${r.stderr}`);
      const end = loadCheckpointOrThrow(path.join(dir, 'end.safetensors'), template);
      assert.equal(end.trainState.step, full.trainState.step);
      for (const field of ['params', 'state', 'optState'] as const) {
        assert.ok(treesEqual(end.trainState[field], full.trainState[field]), `${field} differ after resume`);
      }
      disposeTrainState(end.trainState);
      disposeTrainState(full.trainState);
    }));
});
