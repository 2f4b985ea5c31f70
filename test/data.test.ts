import { assertClose, assertNoLeak } from './helpers.ts';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { isLeft, isRight } from 'fp-ts/lib/Either.js';
import { channelStats, ConfigError, dataLoader, prngKey } from '../mod.ts';
import { encodeIdx, loadFashionMnist, loadImageFolder, parseIdx, readFashionMnist } from '../node.ts';
import { Jimp } from 'jimp';
import { FASHION_MNIST_FILES, FASHION_MNIST_MAX_BYTES } from '../src/data/fashion_mnist.ts';
import { MAX_IDX_BYTES } from '../src/data/idx.ts';

/** Temporary folders, removed when the file's tests are done. */
const made: string[] = [];
const tmp = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnn-data-'));
  made.push(dir);
  return dir;
};
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Write a small fake Fashion-MNIST (n train, m test) into `dir`, gzipped; `edit` may corrupt a file. */
const writeFake = (dir: string, n = 12, m = 6, edit: (name: string, bytes: Uint8Array) => Uint8Array = (_, b) => b) => {
  const images = (k: number) => encodeIdx([k, 28, 28], Uint8Array.from({ length: k * 784 }, (_, i) => (i * 7) % 256));
  const labels = (k: number) => encodeIdx([k], Uint8Array.from({ length: k }, (_, i) => i % 10));
  const f = FASHION_MNIST_FILES;
  for (
    const [name, bytes] of [[f.trainImages.name, images(n)], [f.trainLabels.name, labels(n)], [f.testImages.name, images(m)], [
      f.testLabels.name,
      labels(m),
    ]] as const
  ) {
    fs.writeFileSync(path.join(dir, name), edit(name, gzipSync(bytes)));
  }
};

describe('IDX files', () => {
  test('parse raw and gzipped files', () => {
    const raw = encodeIdx([2, 3], new Uint8Array([1, 2, 3, 4, 5, 6]));
    for (const bytes of [raw, new Uint8Array(gzipSync(raw))]) {
      const r = parseIdx('x', bytes);
      assert.ok(isRight(r));
      assert.deepEqual(r.right.dims, [2, 3]);
      assert.deepEqual(Array.from(r.right.data), [1, 2, 3, 4, 5, 6]);
    }
  });

  test('bad files give clear errors, never a wrong dataset', () => {
    const msg = (bytes: Uint8Array, rank?: number) => {
      const r = parseIdx('f.idx', bytes, rank);
      assert.ok(isLeft(r), 'a bad file parsed');
      return r.left.message;
    };
    const good = encodeIdx([2, 3], new Uint8Array(6));
    assert.match(msg(Uint8Array.from([0, 0, 0x0d, 2, ...good.slice(4)])), /f.idx: wrong magic number 0x00000d02/);
    assert.match(msg(good, 3), /expected 3 dimensions, the header says 2/);
    assert.match(msg(good.slice(0, good.length - 1)), /header says \[2, 3\] = 6 bytes of data, the file has 5/);
    assert.match(msg(Uint8Array.from([...good, 9])), /= 6 bytes of data, the file has 7/);
    const gz = new Uint8Array(gzipSync(good));
    assert.match(msg(gz.slice(0, gz.length - 6)), /f.idx: corrupt or truncated gzip/);
  });

  test("a gzip bomb is refused, not inflated: several members past the trailer's size, 0.2 MB to 200 MB", () => {
    // 200 gzip members of 1 MiB each: a valid IDX of 200 MiB once inflated, from 0.2 MB. zlib would inflate it whole.
    const mib = 2 ** 20;
    const first = new Uint8Array(mib);
    first.set([0, 0, 8, 1]); // unsigned bytes, one dimension
    new DataView(first.buffer).setUint32(4, 200 * mib - 8, false);
    const rest = gzipSync(new Uint8Array(mib));
    const head = gzipSync(first);
    const bomb = new Uint8Array(head.length + 199 * rest.length);
    bomb.set(head);
    for (let i = 0; i < 199; i++) bomb.set(rest, head.length + i * rest.length);
    assert.ok(bomb.length < 0.25e6, `the bomb is ${bomb.length} bytes`);
    const r = parseIdx('bomb.idx.gz', bomb);
    assert.ok(isLeft(r), 'a gzip bomb parsed as a 200 MiB dataset');
    assert.match(r.left.message, /^bomb\.idx\.gz: corrupt or truncated gzip, or a gzip bomb: it inflates past the 1048576 bytes its trailer declares/);
  });

  test('a file whose gzip trailer declares more than the cap is refused before inflating', () => {
    const honest = new Uint8Array(gzipSync(encodeIdx([3], new Uint8Array(3))));
    const claims = (n: number) => {
      const b = Uint8Array.from(honest);
      new DataView(b.buffer).setUint32(b.length - 4, n, true);
      return b;
    };
    const r = parseIdx('big.gz', claims(MAX_IDX_BYTES + 1));
    assert.ok(isLeft(r));
    assert.match(
      r.left.message,
      /big\.gz: corrupt or truncated gzip, or a gzip bomb: its trailer declares 1073741825 inflated bytes, more than the 1073741824 an IDX file may hold here; refused before inflating/,
    );
    // A trailer that says less than the data holds: refused (zlib's own length check catches it, or the cap does).
    const lie = parseIdx('lie.gz', claims(4));
    assert.ok(isLeft(lie) && /^lie\.gz: corrupt or truncated gzip/.test(lie.left.message), isLeft(lie) ? lie.left.message : 'parsed');
    // A smaller cap, given by the caller.
    const capped = parseIdx('x.gz', honest, 1, 8);
    assert.ok(isLeft(capped) && /its trailer declares 11 inflated bytes, more than the 8/.test(capped.left.message));
    assert.ok(isRight(parseIdx('x.gz', honest, 1, 11)));
    assert.throws(() => parseIdx('x', honest, 0), /parseIdx.expectedRank: expected integer in 1..255, got 0/);
    assert.throws(() => parseIdx('x', honest, 1, NaN), /parseIdx.maxBytes: expected positive integer, got NaN/);
  });

  test('Fashion-MNIST files are capped at 64 MiB: an honest 80 MiB gzip is refused by name before inflating', () => {
    const dir = tmp();
    writeFake(dir);
    const n = Math.ceil((80 * 2 ** 20) / 784);
    fs.writeFileSync(path.join(dir, FASHION_MNIST_FILES.trainImages.name), gzipSync(encodeIdx([n, 28, 28], new Uint8Array(n * 784)), { level: 1 }));
    const r = readFashionMnist(dir);
    assert.ok(isLeft(r));
    assert.ok(r.left.message.startsWith(path.join(dir, FASHION_MNIST_FILES.trainImages.name)), r.left.message);
    assert.match(
      r.left.message,
      new RegExp(`its trailer declares \\d+ inflated bytes, more than the ${FASHION_MNIST_MAX_BYTES} an IDX file may hold here; refused before inflating`),
    );
  });

  test('a device or FIFO in place of a Fashion-MNIST file is refused, not read without end', () => {
    const dir = tmp();
    writeFake(dir);
    const file = path.join(dir, FASHION_MNIST_FILES.trainImages.name);
    fs.rmSync(file);
    fs.symlinkSync('/dev/zero', file);
    const r = readFashionMnist(dir);
    assert.ok(isLeft(r) && r.left.message === `${file}: not a regular file`, isLeft(r) ? r.left.message : 'loaded');
  });

  test('header dimensions that multiply to an absurd size are refused', () => {
    const absurd = Uint8Array.from([0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1, 2, 3]);
    const r = parseIdx('absurd.idx', absurd);
    assert.ok(isLeft(r));
    assert.match(
      r.left.message,
      /absurd\.idx: header says \[4294967295, 4294967295, 4294967295\] = [\d.e+]+ bytes of data, more than the 1073741824 an IDX file may hold here/,
    );
  });

  test('encodeIdx refuses dimensions that are not uint32s or do not match the data', () => {
    for (const [dims, shown] of [[[NaN], 'NaN'], [[-1], '-1'], [[1.5], '1.5'], [[2 ** 32], '4294967296'], [[], '[]']] as const) {
      assert.throws(
        () => encodeIdx(dims as never, new Uint8Array(0)),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith('encodeIdx.dims') && e.message.includes(`got ${shown}`),
      );
    }
    assert.throws(() => encodeIdx([2, 3], new Uint8Array(4)), /encodeIdx.dims: expected dimensions multiplying to the 4 data bytes, got \[2, 3\]/);
    assert.throws(() => encodeIdx([2], [1, 2] as never), /encodeIdx.data: expected a Uint8Array, got \[1, 2\]/);
  });

  test('labels out of range and mismatched counts are rejected with the file named', () => {
    const dir = tmp();
    writeFake(dir, 12, 6, (name, b) => (name === FASHION_MNIST_FILES.testLabels.name ? gzipSync(encodeIdx([6], Uint8Array.from([0, 1, 2, 12, 4, 5]))) : b));
    const r = readFashionMnist(dir);
    assert.ok(isLeft(r));
    assert.match(r.left.message, /t10k-labels-idx1-ubyte.gz: label 12 at index 3 is out of range 0..9/);
    const dir2 = tmp();
    writeFake(dir2, 12, 6, (name, b) => (name === FASHION_MNIST_FILES.trainLabels.name ? gzipSync(encodeIdx([11], new Uint8Array(11))) : b));
    const r2 = readFashionMnist(dir2);
    assert.ok(isLeft(r2) && /11 labels for 12 images/.test(r2.left.message));
  });
});

describe('the Fashion-MNIST resolver', () => {
  test('an explicit folder comes first', async () => {
    const dir = tmp();
    writeFake(dir);
    const r = await loadFashionMnist({ dir, download: false });
    assert.ok(isRight(r));
    assert.equal(r.right.dir, dir);
    assert.equal(r.right.train.y.length, 12);
    assert.deepEqual(r.right.train.shape, [28, 28, 1]);
  });

  test('FASHION_MNIST_DIR is next', async () => {
    const dir = tmp();
    writeFake(dir, 8, 4);
    const saved = process.env.FASHION_MNIST_DIR;
    process.env.FASHION_MNIST_DIR = dir;
    try {
      const r = await loadFashionMnist({ download: false });
      assert.ok(isRight(r) && r.right.dir === dir);
    } finally {
      if (saved === undefined) delete process.env.FASHION_MNIST_DIR;
      else process.env.FASHION_MNIST_DIR = saved;
    }
  });

  test('when nothing is found the error lists every place and how to get the data', async () => {
    const saved = process.env.FASHION_MNIST_DIR;
    process.env.FASHION_MNIST_DIR = '/nonexistent/fmnist';
    try {
      const cacheDir = path.join(tmp(), 'cache');
      const r = await loadFashionMnist({ dir: '/nonexistent/explicit', cacheDir, download: false });
      if (fs.existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz')) {
        assert.ok(isRight(r), "with Debian's package installed, the resolver finds it");
        return;
      }
      assert.ok(isLeft(r));
      const m = r.left.message;
      for (
        const p of ['/nonexistent/explicit', '/nonexistent/fmnist', '/usr/share/datasets/fashion-mnist', cacheDir, 'apt-get install dataset-fashion-mnist']
      ) {
        assert.ok(m.includes(p), `message lacks ${p}:\n${m}`);
      }
    } finally {
      if (saved === undefined) delete process.env.FASHION_MNIST_DIR;
      else process.env.FASHION_MNIST_DIR = saved;
    }
  });

  test('download: files from a mirror are verified by MD5 before use', async () => {
    // A local mirror on loopback serving fake files; their MD5s are not the published ones.
    const src = tmp();
    writeFake(src);
    const server = http.createServer((req, res) => {
      const file = path.join(src, path.basename(req.url ?? ''));
      if (req.url === `/${path.basename(file)}` && fs.existsSync(file)) res.end(fs.readFileSync(file));
      else (res.statusCode = 404, res.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const cacheDir = path.join(tmp(), 'cache');
      const { downloadFashionMnist } = await import('../src/data/fashion_mnist.ts');
      const bad = await downloadFashionMnist(`http://127.0.0.1:${port}/`, cacheDir);
      assert.match(bad ?? '', /train-images-idx3-ubyte.gz: MD5 [0-9a-f]{32}, expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d \(corrupt download; nothing was kept\)/);
      assert.ok(!fs.existsSync(path.join(cacheDir, 'train-images-idx3-ubyte.gz')));
      // With checksums that match what the mirror serves, the files land in the cache.
      const sums = Object.fromEntries(
        Object.values(FASHION_MNIST_FILES).map((f) => [f.name, createHash('md5').update(fs.readFileSync(path.join(src, f.name))).digest('hex')]),
      );
      const ok = await downloadFashionMnist(`http://127.0.0.1:${port}/`, cacheDir, sums);
      assert.equal(ok, null);
      assert.ok(isRight(readFashionMnist(cacheDir)));
      const missing = await downloadFashionMnist(`http://127.0.0.1:${port}/nothing/`, path.join(tmp(), 'c2'));
      assert.match(missing ?? '', /HTTP 404/);
    } finally {
      server.close();
    }
  });
});

describe('DataLoader', () => {
  const ds = { x: Uint8Array.from({ length: 10 * 4 * 4 }, (_, i) => i % 256), y: Int32Array.from({ length: 10 }, (_, i) => i), shape: [4, 4, 1] };

  test('batches, dropLast, and key-driven shuffling', () => {
    const all = (l: ReturnType<typeof dataLoader>, epoch = 0) =>
      [...l.batches(epoch)].map((b) => {
        const ys = Array.from(b.y.dataSync());
        assert.deepEqual(b.x.shape.slice(1), [4, 4, 1]);
        b.x.dispose();
        b.y.dispose();
        return ys;
      });
    assertNoLeak(() => {
      const a = all(dataLoader(ds, { batchSize: 4, key: prngKey(1) }));
      assert.deepEqual(a.map((b) => b.length), [4, 4, 2]);
      assert.deepEqual(a.flat().sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      assert.deepEqual(all(dataLoader(ds, { batchSize: 4, key: prngKey(1) })), a, 'same key, same order');
      assert.notDeepEqual(all(dataLoader(ds, { batchSize: 4, key: prngKey(1) }), 1), a, 'another epoch, another order');
      assert.deepEqual(all(dataLoader(ds, { batchSize: 4, shuffle: false })).flat(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      const dropped = dataLoader(ds, { batchSize: 4, dropLast: true });
      assert.equal(dropped.length, 2);
      assert.equal(all(dropped).length, 2);
    }, 'loader');
  });

  test('scaling and normalisation', () => {
    const l = dataLoader(ds, { batchSize: 10, shuffle: false, normalize: { mean: [0.5], std: [0.25] } });
    const b = [...l.batches(0)][0];
    const x = b.x.dataSync();
    assertClose([x[0], x[17]], [(0 / 255 - 0.5) / 0.25, (17 / 255 - 0.5) / 0.25], 1e-6);
    b.x.dispose();
    b.y.dispose();
    const s = channelStats(ds);
    const v = Array.from(ds.x, (u) => u / 255);
    const mean = v.reduce((a, c) => a + c) / v.length;
    assertClose([s.mean[0], s.std[0]], [mean, Math.sqrt(v.reduce((a, c) => a + (c - mean) ** 2, 0) / v.length)], 1e-9);
  });

  test('augmentation: pad-crop and flip are deterministic per key and keep the pixels', () => {
    const one = { x: Uint8Array.from({ length: 16 }, (_, i) => i + 1), y: Int32Array.from([0]), shape: [4, 4, 1] };
    const draw = (seed: number, epoch: number) => {
      const b = [...dataLoader(one, { batchSize: 1, key: prngKey(seed), scale: 1, padCrop: 1, flip: true }).batches(epoch)][0];
      const v = Array.from(b.x.dataSync());
      b.x.dispose();
      b.y.dispose();
      return v;
    };
    const seen = new Set<string>();
    for (let e = 0; e < 30; e++) {
      const v = draw(3, e);
      assert.deepEqual(draw(3, e), v);
      // Each output pixel is 0 (padding) or an input pixel; a row of the source appears in order or mirrored.
      assert.ok(v.every((p) => p === 0 || (p >= 1 && p <= 16)));
      seen.add(v.join());
    }
    assert.ok(seen.size > 5, `only ${seen.size} distinct augmentations in 30 epochs`);
  });

  test('bad options are named', () => {
    assert.throws(() => dataLoader(ds, { batchSize: 0 }), /dataLoader.batchSize: expected positive integer, got 0/);
    assert.throws(() => dataLoader({ ...ds, y: new Int32Array(3) }, { batchSize: 2 }), /x has 160 values, expected 3 examples × 16 = 48/);
    assert.throws(() => dataLoader(ds, { batchSize: 2, normalize: { mean: [0, 0], std: [1, 1] } }), /dataLoader.normalize: expected 1 means/);
  });
});

describe('image folders (Imagenette layout)', () => {
  test('decodes and resizes PNG and JPEG files generated here, labels by sorted class folder', async () => {
    const root = tmp();
    const colours = { cat: 0xff0000ff, dog: 0x00ff00ff };
    for (const split of ['train', 'val']) {
      for (const [cls, colour] of Object.entries(colours)) {
        fs.mkdirSync(path.join(root, split, cls), { recursive: true });
        const img = new Jimp({ width: 10, height: 6, color: colour });
        fs.writeFileSync(path.join(root, split, cls, 'a.png'), await img.getBuffer('image/png'));
        fs.writeFileSync(path.join(root, split, cls, 'b.JPEG'), await img.getBuffer('image/jpeg'));
      }
    }
    const { train, valid, classes } = await loadImageFolder(root, { size: [4, 5] });
    assert.deepEqual(classes, ['cat', 'dog']);
    assert.deepEqual(train.shape, [4, 5, 3]);
    assert.deepEqual(Array.from(train.y), [0, 0, 1, 1]);
    assert.equal(valid.y.length, 4);
    // The PNG of 'cat' is pure red; JPEG is lossy, so only close.
    assert.deepEqual(Array.from(train.x.subarray(0, 3)), [255, 0, 0]);
    const jpeg = Array.from(train.x.subarray(4 * 5 * 3, 4 * 5 * 3 + 3));
    assert.ok(jpeg[0] > 230 && jpeg[1] < 30 && jpeg[2] < 30, `jpeg red pixel ${jpeg}`);
    const gray = await loadImageFolder(root, { size: [2, 2], channels: 1 });
    assert.deepEqual(gray.train.shape, [2, 2, 1]);
    assert.equal(gray.train.x[8], Math.round(0.587 * 255));
    fs.mkdirSync(path.join(root, 'val', 'bird'));
    await assert.rejects(loadImageFolder(root, { size: [4, 4] }), /class 'bird' is not among the training classes \[cat, dog\]/);
    await assert.rejects(loadImageFolder(path.join(root, 'nope'), { size: [4, 4] }), /folder not found/);
  });
});
