/**
 * Random pad-and-crop and horizontal flip of images `[h, w, c]`, drawn from a
 * key per example: the augmentation `dataLoader` applies in training and
 * `tta` applies at test time.
 *
 * @module
 */
import { ConfigError } from '../errors.ts';
import type { Shape } from '../layer.ts';
import { type Key, randomBits } from '../random.ts';

/** One example's augmentation: a shift of the crop window and a mirror. */
export interface Augmentation {
  /** Rows the crop window moves down, in `-pad..pad`. */
  readonly dy: number;
  /** Columns it moves right, in `-pad..pad`. */
  readonly dx: number;
  /** Mirror the image left-right, before the crop window is shifted (as likely either way: the shifts are symmetric). */
  readonly mirror: boolean;
}

/**
 * The augmentation `key` draws: a shift in `-pad..pad` on each axis (torchvision's
 * `RandomCrop(size, padding=pad)`) and, when `flip`, a mirror with probability ½.
 *
 * @example
 * ```ts
 * import { drawAugmentation, prngKey } from 'tsnn';
 *
 * const a = drawAugmentation(prngKey(3), 1, true);
 * console.log(Math.abs(a.dy) <= 1, Math.abs(a.dx) <= 1, typeof a.mirror); // true true boolean
 * console.log(drawAugmentation(prngKey(3), 0, false)); // { dy: 0, dx: 0, mirror: false }
 * ```
 */
export const drawAugmentation = (key: Key, pad: number, flip: boolean): Augmentation => {
  const [r0, r1] = randomBits(key, 2);
  return {
    dy: pad ? (r0 % (2 * pad + 1)) - pad : 0,
    dx: pad ? (r1 % (2 * pad + 1)) - pad : 0,
    mirror: flip && (r1 >>> 31) === 1,
  };
};

/**
 * Where pixel `(i, j)` of an augmented `h × w` image comes from: the source
 * pixel's index `si · w + sj`, or -1 where the crop window lies in the padding
 * (which is zero in the raw, pre-normalisation domain, as torchvision pads).
 *
 * @example
 * ```ts
 * import { sourcePixel } from 'tsnn';
 *
 * const shiftRight = { dy: 0, dx: -1, mirror: false };
 * console.log(sourcePixel(0, 0, shiftRight, 2, 2), sourcePixel(0, 1, shiftRight, 2, 2)); // -1 0
 * console.log(sourcePixel(0, 0, { dy: 0, dx: 0, mirror: true }, 2, 2)); // 1
 * ```
 */
export const sourcePixel = (i: number, j: number, a: Augmentation, h: number, w: number): number => {
  const si = i + a.dy, sj = j + a.dx;
  if (si < 0 || si >= h || sj < 0 || sj >= w) return -1;
  return si * w + (a.mirror ? w - 1 - sj : sj);
};

/**
 * A copy of `n` raw images `[h, w, c]` (the same array type), example `e`
 * augmented as `augmentationOf(e)` says.
 *
 * @example
 * ```ts
 * import { augmentImages } from 'tsnn';
 *
 * const x = Uint8Array.from([1, 2, 3, 4]); // one 2×2 image
 * const flipped = augmentImages({ x, shape: [2, 2, 1] }, () => ({ dy: 0, dx: 0, mirror: true }));
 * console.log(flipped); // Uint8Array(4) [ 2, 1, 4, 3 ]
 * ```
 */
export const augmentImages = <X extends Uint8Array | Float32Array>(
  images: { readonly x: X; readonly shape: Shape },
  augmentationOf: (example: number) => Augmentation,
): X => {
  if (images.shape.length !== 3 || !images.shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ConfigError([`augmentImages.images.shape: expected images [h, w, c], got [${images.shape.join(', ')}]`]);
  }
  const [h, w, c] = images.shape;
  const per = h * w * c, n = images.x.length / per;
  if (!Number.isInteger(n)) {
    throw new ConfigError([`augmentImages.images.x: expected a multiple of ${per} values (shape [${images.shape.join(', ')}]), got ${images.x.length}`]);
  }
  const out = new (images.x.constructor as new (n: number) => X)(images.x.length);
  for (let e = 0; e < n; e++) {
    const a = augmentationOf(e), base = e * per;
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const s = sourcePixel(i, j, a, h, w);
        if (s < 0) continue;
        for (let k = 0; k < c; k++) out[base + (i * w + j) * c + k] = images.x[base + s * c + k];
      }
    }
  }
  return out;
};
