/**
 * Fashion-MNIST: find the four IDX files, read and validate them, and build
 * datasets. Looks in an explicit folder, `FASHION_MNIST_DIR`, Debian's
 * `/usr/share/datasets/fashion-mnist`, the user cache, then downloads from the
 * official mirror into the cache, checking the published MD5 sums.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { createHash } from 'node:crypto';
import { type Either, isLeft, left, right } from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { decodeArg, type NoFields, optionSet, type OptionSetOf, type OptionsOf, type SameType, typesAgree } from '../config.ts';
import type { ArrayDataset } from './loader.ts';
import { DatasetError, parseIdx } from './idx.ts';

/**
 * The ten classes, in label order.
 *
 * @example
 * ```ts
 * import { FASHION_MNIST_CLASSES } from 'tsnn/node';
 *
 * console.log(FASHION_MNIST_CLASSES[9]); // Ankle boot
 * ```
 */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/**
 * The files and the MD5 sums that the dataset's README publishes.
 *
 * @example
 * ```ts
 * console.log(FASHION_MNIST_FILES.trainImages.name); // train-images-idx3-ubyte.gz
 * ```
 */
export const FASHION_MNIST_FILES = {
  trainImages: { name: 'train-images-idx3-ubyte.gz', md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
  trainLabels: { name: 'train-labels-idx1-ubyte.gz', md5: '25c81989df183df01b3e8a0aad5dffbe' },
  testImages: { name: 't10k-images-idx3-ubyte.gz', md5: 'bef4ecab320f06d8554ea6380940ec79' },
  testLabels: { name: 't10k-labels-idx1-ubyte.gz', md5: 'bb300cfdad3c16e7a12a480ee83cd310' },
} as const;

/**
 * The official mirror (the one torchvision uses).
 *
 * @example
 * ```ts
 * console.log(FASHION_MNIST_MIRROR); // http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/
 * ```
 */
export const FASHION_MNIST_MIRROR = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/**
 * Debian's `dataset-fashion-mnist` installs here.
 *
 * @example
 * ```ts
 * // After `apt-get install dataset-fashion-mnist`, readFashionMnist(DEBIAN_FASHION_MNIST_DIR) reads it; loadFashionMnist looks here.
 * console.log(DEBIAN_FASHION_MNIST_DIR); // /usr/share/datasets/fashion-mnist
 * ```
 */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Train and test sets. */
export interface FashionMnist {
  /** The 60,000 training examples, `[28, 28, 1]` bytes each. */
  readonly train: ArrayDataset;
  /** The 10,000 test examples. */
  readonly test: ArrayDataset;
  /** The folder the files came from. */
  readonly dir: string;
}

/** An http(s) URL, as `new URL` parses it. */
const HttpUrl: t.RefinementC<t.StringC> = t.refinement(t.string, (s) => {
  try {
    return ['http:', 'https:'].includes(new URL(s).protocol);
  } catch {
    return false;
  }
}, 'an http(s) URL');

const fashionMnistOptional = {
  dir: t.string,
  cacheDir: t.string,
  download: t.boolean,
  mirror: HttpUrl,
};
const FashionMnistOptionSet: OptionSetOf<NoFields, typeof fashionMnistOptional> = optionSet('loadFashionMnist', {}, fashionMnistOptional);

/** Options of {@link loadFashionMnist}. */
export interface FashionMnistOptions {
  /** Look here first. */
  readonly dir?: string;
  /** The cache folder. Default `$XDG_CACHE_HOME/tsnn/fashion-mnist` or `~/.cache/tsnn/fashion-mnist`. */
  readonly cacheDir?: string;
  /** Try the download when the files are nowhere else. Default true. */
  readonly download?: boolean;
  /** The mirror to download from, an http(s) URL. Default {@link FASHION_MNIST_MIRROR}. */
  readonly mirror?: string;
}
typesAgree<SameType<FashionMnistOptions, OptionsOf<typeof FashionMnistOptionSet>>>();

/**
 * The default cache folder.
 *
 * @example
 * ```ts
 * // ~/.cache/tsnn/fashion-mnist, or $XDG_CACHE_HOME/tsnn/fashion-mnist when that is set.
 * console.log(defaultCacheDir().endsWith('fashion-mnist')); // true
 * ```
 */
export const defaultCacheDir = (): string => nodePath.join(process.env.XDG_CACHE_HOME || nodePath.join(os.homedir(), '.cache'), 'tsnn', 'fashion-mnist');

const hasAll = (dir: string) => Object.values(FASHION_MNIST_FILES).every((f) => fs.existsSync(nodePath.join(dir, f.name)));

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

/**
 * Download the four files from `mirror` into `dir`, verifying each MD5 before
 * it is kept. Returns null on success, else what went wrong. A `mirror` that
 * is not an http(s) URL, or a `dir` that is not a string, rejects with a
 * ConfigError.
 *
 * @example
 * ```ts
 * import { downloadFashionMnist } from 'tsnn/node';
 *
 * // const problem = await downloadFashionMnist(FASHION_MNIST_MIRROR, defaultCacheDir()); // null when all four arrived
 * // A mirror that is not an http(s) URL is refused before anything is fetched:
 * const dir = Deno.makeTempDirSync();
 * await downloadFashionMnist('ftp://example.org/', dir).catch((e) => console.log(e.message)); // downloadFashionMnist.mirror: expected an http(s) URL, got "ftp://example.org/"
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const downloadFashionMnist = async (
  mirror: string,
  dir: string,
  sums: Record<string, string> = Object.fromEntries(Object.values(FASHION_MNIST_FILES).map((f) => [f.name, f.md5])),
): Promise<string | null> => {
  decodeArg('downloadFashionMnist.mirror', HttpUrl, mirror);
  decodeArg('downloadFashionMnist.dir', t.string, dir);
  try {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of Object.values(FASHION_MNIST_FILES)) {
      const target = nodePath.join(dir, f.name);
      const expected = sums[f.name];
      if (fs.existsSync(target) && md5(fs.readFileSync(target)) === expected) continue;
      const res = await fetch(new URL(f.name, mirror), { signal: AbortSignal.timeout(60_000) });
      if (!res.ok) return `${mirror}${f.name}: HTTP ${res.status}`;
      const bytes = new Uint8Array(await res.arrayBuffer());
      const sum = md5(bytes);
      if (sum !== expected) return `${mirror}${f.name}: MD5 ${sum}, expected ${expected} (corrupt download; nothing was kept)`;
      const tmp = `${target}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, bytes);
      fs.renameSync(tmp, target);
    }
    return null;
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return `${mirror}: ${(e as Error).message}${cause ? ` (${cause.code ?? cause.message})` : ''}`;
  }
};

/**
 * The most bytes a Fashion-MNIST file may hold, inflated: 2^26 (64 MiB). The
 * training images hold 47,040,016; a file that claims more is not this
 * dataset (or is a gzip bomb), and is refused before it is read or inflated.
 *
 * @example
 * ```ts
 * console.log(FASHION_MNIST_MAX_BYTES); // 67108864
 * ```
 */
export const FASHION_MNIST_MAX_BYTES = 2 ** 26;

const readSet = (dir: string, images: string, labels: string): Either<DatasetError, ArrayDataset> => {
  const read = (name: string, rank: number) => {
    const file = nodePath.join(dir, name);
    try {
      const stat = fs.statSync(file);
      // A device or FIFO reports size 0 and reads without end: only regular files are read.
      if (!stat.isFile()) return left(new DatasetError(file, 'not a regular file'));
      const size = stat.size;
      if (size > FASHION_MNIST_MAX_BYTES) {
        return left(new DatasetError(file, `${size} bytes, more than the ${FASHION_MNIST_MAX_BYTES} a Fashion-MNIST file may hold`));
      }
      return parseIdx(file, new Uint8Array(fs.readFileSync(file)), rank, FASHION_MNIST_MAX_BYTES);
    } catch (e) {
      return left(new DatasetError(file, `cannot read: ${(e as Error).message}`));
    }
  };
  const x = read(images, 3);
  if (isLeft(x)) return x;
  const y = read(labels, 1);
  if (isLeft(y)) return y;
  const [n, h, w] = x.right.dims;
  if (h !== 28 || w !== 28) return left(new DatasetError(nodePath.join(dir, images), `expected 28×28 images, got ${h}×${w}`));
  if (y.right.dims[0] !== n) {
    return left(new DatasetError(nodePath.join(dir, labels), `${y.right.dims[0]} labels for ${n} images`));
  }
  const bad = y.right.data.findIndex((l) => l > 9);
  if (bad >= 0) return left(new DatasetError(nodePath.join(dir, labels), `label ${y.right.data[bad]} at index ${bad} is out of range 0..9`));
  return right({ x: x.right.data, y: Int32Array.from(y.right.data), shape: [28, 28, 1], classes: FASHION_MNIST_CLASSES });
};

/**
 * Read Fashion-MNIST from a folder holding the four gzipped IDX files. A
 * `dir` that is not a string is a ConfigError; a file that is missing,
 * corrupt, or claims more than {@link FASHION_MNIST_MAX_BYTES} is a Left.
 *
 * @example
 * ```ts
 * import { gzipSync } from 'node:zlib';
 * import { isLeft, isRight } from 'fp-ts/lib/Either.js';
 * import { encodeIdx, readFashionMnist } from 'tsnn/node';
 * import { FASHION_MNIST_FILES as F } from './fashion_mnist.ts';
 *
 * // A stand-in for the real files: 2 training and 1 test image, all zeros.
 * const dir = Deno.makeTempDirSync();
 * const write = (name: string, dims: number[]) =>
 *   Deno.writeFileSync(`${dir}/${name}`, gzipSync(encodeIdx(dims, new Uint8Array(dims.reduce((a, b) => a * b)))));
 * write(F.trainImages.name, [2, 28, 28]);
 * write(F.trainLabels.name, [2]);
 * write(F.testImages.name, [1, 28, 28]);
 * write(F.testLabels.name, [1]);
 *
 * const r = readFashionMnist(dir);
 * if (isRight(r)) console.log(r.right.train.shape, r.right.train.y.length, r.right.test.y.length); // [ 28, 28, 1 ] 2 1
 * const missing = readFashionMnist(`${dir}/missing`);
 * if (isLeft(missing)) console.log(missing.left.detail.startsWith('cannot read')); // true
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const readFashionMnist = (dir: string): Either<DatasetError, FashionMnist> => {
  decodeArg('readFashionMnist.dir', t.string, dir);
  const f = FASHION_MNIST_FILES;
  const train = readSet(dir, f.trainImages.name, f.trainLabels.name);
  if (isLeft(train)) return train;
  const test = readSet(dir, f.testImages.name, f.testLabels.name);
  if (isLeft(test)) return test;
  return right({ train: train.right, test: test.right, dir });
};

/**
 * Find and load Fashion-MNIST. The error lists every place looked and how to get the data.
 * An unknown or ill-typed option rejects with a ConfigError naming it.
 *
 * @example
 * ```ts
 * import { gzipSync } from 'node:zlib';
 * import { isRight } from 'fp-ts/lib/Either.js';
 * import { encodeIdx, loadFashionMnist } from 'tsnn/node';
 * import { FASHION_MNIST_FILES as F } from './fashion_mnist.ts';
 *
 * // A stand-in for the real files: 2 training and 1 test image, all zeros.
 * const dir = Deno.makeTempDirSync();
 * const write = (name: string, dims: number[]) =>
 *   Deno.writeFileSync(`${dir}/${name}`, gzipSync(encodeIdx(dims, new Uint8Array(dims.reduce((a, b) => a * b)))));
 * write(F.trainImages.name, [2, 28, 28]);
 * write(F.trainLabels.name, [2]);
 * write(F.testImages.name, [1, 28, 28]);
 * write(F.testLabels.name, [1]);
 *
 * // With no options it looks in FASHION_MNIST_DIR, Debian's folder and the cache, then downloads.
 * const r = await loadFashionMnist({ dir, download: false });
 * if (isRight(r)) console.log(r.right.dir === dir, r.right.train.y.length); // true 2
 * try {
 *   await loadFashionMnist({ dowload: false } as never);
 * } catch (e) {
 *   console.log((e as Error).message); // loadFashionMnist.dowload: unknown option, got false; did you mean download? (known: dir, cacheDir, download, mirror)
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const loadFashionMnist = async (options: FashionMnistOptions = {}): Promise<Either<DatasetError, FashionMnist>> => {
  // A bad option is the caller's mistake, not a missing dataset: it rejects with a ConfigError.
  const opts = FashionMnistOptionSet.decode(options);
  const cache = opts.cacheDir ?? defaultCacheDir();
  const places: [string, string | undefined][] = [
    ['the dir option', opts.dir],
    ['FASHION_MNIST_DIR', process.env.FASHION_MNIST_DIR],
    ["Debian's dataset-fashion-mnist", DEBIAN_FASHION_MNIST_DIR],
    ['the cache', cache],
  ];
  const looked: string[] = [];
  for (const [what, dir] of places) {
    if (!dir) {
      looked.push(`${what}: not set`);
      continue;
    }
    if (hasAll(dir)) return readFashionMnist(dir);
    looked.push(`${what}: ${dir} (files missing)`);
  }
  if (opts.download ?? true) {
    const mirror = opts.mirror ?? FASHION_MNIST_MIRROR;
    const why = await downloadFashionMnist(mirror, cache);
    if (why === null) return readFashionMnist(cache);
    looked.push(`download into ${cache}: ${why}`);
  }
  return left(
    new DatasetError(
      'Fashion-MNIST',
      [
        'not found. Looked in:',
        ...looked.map((l) => `  - ${l}`),
        'Get it with `apt-get install dataset-fashion-mnist` (Debian), or put the four files',
        `(${Object.values(FASHION_MNIST_FILES).map((f) => f.name).join(', ')}) in a folder and set FASHION_MNIST_DIR.`,
      ].join('\n'),
    ),
  );
};

/**
 * {@link loadFashionMnist} for scripts: throws the `DatasetError`.
 *
 * @example
 * ```ts
 * import { gzipSync } from 'node:zlib';
 * import { encodeIdx, loadFashionMnistOrThrow } from 'tsnn/node';
 * import { FASHION_MNIST_FILES as F } from './fashion_mnist.ts';
 *
 * // A stand-in for the real files: 2 training and 1 test image, all zeros.
 * const dir = Deno.makeTempDirSync();
 * const write = (name: string, dims: number[]) =>
 *   Deno.writeFileSync(`${dir}/${name}`, gzipSync(encodeIdx(dims, new Uint8Array(dims.reduce((a, b) => a * b)))));
 * write(F.trainImages.name, [2, 28, 28]);
 * write(F.trainLabels.name, [2]);
 * write(F.testImages.name, [1, 28, 28]);
 * write(F.testLabels.name, [1]);
 *
 * const { train, test } = await loadFashionMnistOrThrow({ dir, download: false });
 * console.log(train.y.length, test.y.length); // 2 1
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const loadFashionMnistOrThrow = async (opts: FashionMnistOptions = {}): Promise<FashionMnist> => {
  const r = await loadFashionMnist(opts);
  if (isLeft(r)) throw r.left;
  return r.right;
};
