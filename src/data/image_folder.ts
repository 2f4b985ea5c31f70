/**
 * Image-folder datasets in the Imagenette layout: `train/<class>/*.JPEG` and
 * `val/<class>/*.JPEG` (PNG too). Decoding and resizing use jimp, which is
 * pure JavaScript and runs under Node and Deno alike. It is an optional
 * peer dependency, imported on the first call: only this loader needs it.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import * as t from 'io-ts';
import {
  decodeArg,
  optionSet,
  type OptionSetOf,
  type OptionsOf,
  type PositiveInt,
  positiveIntUpTo,
  type SameType,
  tupleOf,
  type TupleOfC,
  typesAgree,
} from '../config.ts';
import type { ArrayDataset } from './loader.ts';
import { DatasetError } from './idx.ts';

/** An image side: a positive integer up to 4096 (larger sizes would allocate gigabytes per image). */
const Side: t.RefinementC<typeof PositiveInt> = positiveIntUpTo(4096);
const Size: TupleOfC<readonly [typeof Side, typeof Side]> = tupleOf([Side, Side], '[height, width] in 1..4096');
const Channels: t.UnionC<[t.LiteralC<1>, t.LiteralC<3>]> = t.union([t.literal(1), t.literal(3)], '1 | 3');
const Splits: TupleOfC<readonly [t.StringC, t.StringC]> = tupleOf([t.string, t.string], '[train folder, validation folder]');

const imageFolderRequired = {
  size: Size,
};
const imageFolderOptional = {
  channels: Channels,
  splits: Splits,
};
const ImageFolderOptionSet: OptionSetOf<typeof imageFolderRequired, typeof imageFolderOptional> = optionSet(
  'loadImageFolder',
  imageFolderRequired,
  imageFolderOptional,
);

/** Options of {@link loadImageFolder}. */
export interface ImageFolderOptions {
  /** Every image is resized to `[height, width]` (aspect ratio not kept), each side at most 4096. */
  readonly size: readonly [number, number];
  /** 3 for RGB, 1 for grayscale (luma). Default 3. */
  readonly channels?: 1 | 3;
  /** Split folders. Default `['train', 'val']`. */
  readonly splits?: readonly [string, string];
}
typesAgree<SameType<ImageFolderOptions, OptionsOf<typeof ImageFolderOptionSet>>>();

const IMAGE = /\.(jpe?g|png)$/i;

type JimpModule = typeof import('jimp');
let jimp: Promise<JimpModule> | undefined;

/** jimp, imported once; a DatasetError saying how to install it when it is missing. */
const loadJimp = (): Promise<JimpModule> => (jimp ??= import('jimp').catch((e: unknown) => {
  jimp = undefined;
  throw new DatasetError(
    'jimp',
    `loadImageFolder decodes images with the optional package jimp, which did not load (${(e as Error).message.split('\n')[0]}); install it: npm install jimp`,
  );
}));

const listClasses = (dir: string): string[] => fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();

const readSplit = async (dir: string, classes: readonly string[], o: Required<ImageFolderOptions>): Promise<ArrayDataset> => {
  const [h, w] = o.size, c = o.channels;
  const files: [string, number][] = [];
  for (const cls of listClasses(dir)) {
    const label = classes.indexOf(cls);
    if (label < 0) throw new DatasetError(nodePath.join(dir, cls), `class '${cls}' is not among the training classes [${classes.join(', ')}]`);
    for (const f of fs.readdirSync(nodePath.join(dir, cls)).filter((f) => IMAGE.test(f)).sort()) files.push([nodePath.join(dir, cls, f), label]);
  }
  const x = await readImages(files.map(([f]) => f), [h, w], c as 1 | 3);
  return { x, y: Int32Array.from(files, ([, label]) => label), shape: [h, w, c], classes };
};

/**
 * Decode image files (PNG, JPEG) with jimp, resized to `size` ([height,
 * width]), as `[n, h, w, channels]` bytes: RGB, or luma (0.299 R + 0.587 G +
 * 0.114 B) for 1 channel. A file that is missing or will not decode is a
 * DatasetError naming it.
 *
 * @example
 * ```ts
 * import { Jimp } from 'jimp';
 * import { readImages } from 'tsnn/node';
 *
 * const dir = Deno.makeTempDirSync();
 * Deno.writeFileSync(`${dir}/red.png`, await new Jimp({ width: 4, height: 4, color: 0xff0000ff }).getBuffer('image/png'));
 * const x = await readImages([`${dir}/red.png`], [2, 2], 3);
 * console.log(x.length, Array.from(x.subarray(0, 3))); // 12 [ 255, 0, 0 ]
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const readImages = async (files: readonly string[], size: readonly [number, number], channels: 1 | 3): Promise<Uint8Array> => {
  const [h, w] = size, c = channels;
  const { Jimp } = await loadJimp();
  const x = new Uint8Array(files.length * h * w * c);
  for (const [i, file] of files.entries()) {
    let img;
    try {
      img = await Jimp.read(file);
    } catch (e) {
      throw new DatasetError(file, `cannot decode image: ${(e as Error).message.split('\n')[0]}`);
    }
    img.resize({ w, h });
    const rgba = img.bitmap.data;
    for (let p = 0; p < h * w; p++) {
      const [r, g, b] = [rgba[4 * p], rgba[4 * p + 1], rgba[4 * p + 2]];
      if (c === 3) x.set([r, g, b], (i * h * w + p) * 3);
      else x[i * h * w + p] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
  return x;
};

/**
 * Load an Imagenette-style folder into memory as two datasets.
 *
 * Options are checked before any file is read: an unknown or ill-typed one
 * is a ConfigError naming it (`loadImageFolder.size: expected [height,
 * width] in 1..4096, got [8]`); a missing or unreadable folder or image is a
 * DatasetError.
 *
 * @example
 * ```ts
 * import { Jimp } from 'jimp';
 * import { DatasetError, loadImageFolder } from 'tsnn/node';
 *
 * // A tiny folder in the Imagenette layout: two classes, one 4×4 PNG each, per split.
 * const root = Deno.makeTempDirSync();
 * for (const split of ['train', 'val']) {
 *   for (const [cls, color] of [['cat', 0xff0000ff], ['dog', 0x0000ffff]] as const) {
 *     Deno.mkdirSync(`${root}/${split}/${cls}`, { recursive: true });
 *     Deno.writeFileSync(`${root}/${split}/${cls}/a.png`, await new Jimp({ width: 4, height: 4, color }).getBuffer('image/png'));
 *   }
 * }
 * const { train, valid, classes } = await loadImageFolder(root, { size: [2, 2] });
 * console.log(classes, train.shape, Array.from(train.y), valid.x.length); // [ "cat", "dog" ] [ 2, 2, 3 ] [ 0, 1 ] 24
 * console.log(Array.from(train.x.subarray(0, 3))); // [ 255, 0, 0 ]
 * try {
 *   await loadImageFolder(`${root}/missing`, { size: [2, 2] });
 * } catch (e) {
 *   console.log(e instanceof DatasetError, (e as DatasetError).detail); // true folder not found (expected train/<class>/*.JPEG and val/<class>/*.JPEG)
 * }
 * Deno.removeSync(root, { recursive: true });
 * ```
 */
export const loadImageFolder = async (
  root: string,
  opts: ImageFolderOptions,
): Promise<{ train: ArrayDataset; valid: ArrayDataset; classes: readonly string[] }> => {
  decodeArg('loadImageFolder.root', t.string, root);
  const d = ImageFolderOptionSet.decode(opts);
  const o: Required<ImageFolderOptions> = { size: d.size, channels: d.channels ?? 3, splits: d.splits ?? ['train', 'val'] };
  const [trainDir, validDir] = o.splits.map((s) => nodePath.join(root, s));
  for (const d of [trainDir, validDir]) {
    if (!fs.existsSync(d)) throw new DatasetError(d, 'folder not found (expected train/<class>/*.JPEG and val/<class>/*.JPEG)');
  }
  const classes = listClasses(trainDir);
  if (classes.length === 0) throw new DatasetError(trainDir, 'no class folders');
  return { train: await readSplit(trainDir, classes, o), valid: await readSplit(validDir, classes, o), classes };
};
