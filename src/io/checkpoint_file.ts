/**
 * Checkpoint files: `saveCheckpoint` writes a checkpoint atomically, and
 * `loadCheckpoint` reads one through checkpoint.ts's checks, range by range,
 * so a hostile header never costs more reads than the model's own size.
 *
 * @module
 */
import * as fs from 'node:fs';
import { type Either, isLeft, left } from 'fp-ts/lib/Either.js';
import type { TrainState } from '../train/step.ts';
import { writeFileAtomic } from './atomic_write.ts';
import { CheckpointError, type CheckpointTemplate, decodeFrom, encodeCheckpointFor, type Loaded, type Source } from './checkpoint.ts';

/**
 * Save a train state and the model's configuration as safetensors, atomically.
 * A state loading would refuse (a NaN, a negative variance or count) is a
 * ConfigError (the promise rejects), and the file already there is left as
 * it was. The values are read with `data()`, so it works on every backend,
 * WebGPU included.
 *
 * @example
 * ```ts
 * import { adamW, dense, disposeTrainState, initTrainState, prngKey } from 'tsnn';
 * import { saveCheckpoint } from 'tsnn/node';
 *
 * const dir = Deno.makeTempDirSync();
 * const ts = initTrainState(dense({ nf: 2 }), adamW(1e-3), prngKey(0), [3]);
 * await saveCheckpoint(`${dir}/tiny.safetensors`, ts, { model: 'tiny' });
 * console.log(Deno.statSync(`${dir}/tiny.safetensors`).isFile); // true
 * disposeTrainState(ts);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const saveCheckpoint = async (file: string, ts: TrainState, config: unknown = null): Promise<void> =>
  writeFileAtomic(file, await encodeCheckpointFor('saveCheckpoint', ts, config));

/** A failed read of the file, as opposed to a bug, which is not caught. */
class ReadFailure extends Error {}

/** A source that reads `fd` at offsets, each range into a fresh buffer. */
const fileSource = (fd: number, size: number): Source => ({
  size,
  read(pos, length) {
    const out = new Uint8Array(length);
    for (let done = 0; done < length;) {
      let n: number;
      try {
        n = fs.readSync(fd, out, done, Math.min(length - done, 1 << 30), pos + done);
      } catch (e) {
        throw new ReadFailure((e as Error).message);
      }
      if (n === 0) throw new ReadFailure(`the file ended at byte ${pos + done} while being read (changed while loading?)`);
      done += n;
    }
    return out;
  },
});

/**
 * Load a checkpoint and validate it against the model: missing, extra,
 * wrongly shaped or typed tensors, values out of their domain, and corrupt,
 * truncated or altered files give a `CheckpointError` listing every problem.
 * The domains go by path, as the library's layers and transforms name their
 * state: `state.….var` and `opt.<link>.nu.…` must be ≥ 0, `opt.<link>.count`
 * a non-negative count (a layer of your own with a state field `var` is held to it too).
 *
 * @example
 * ```ts
 * import { adamW, dense, disposeTrainState, initTrainState, prngKey } from 'tsnn';
 * import { loadCheckpoint, saveCheckpoint } from 'tsnn/node';
 *
 * const dir = Deno.makeTempDirSync();
 * const opt = adamW(1e-3), ts = initTrainState(dense({ nf: 2 }), opt, prngKey(0), [3]);
 * await saveCheckpoint(`${dir}/tiny.safetensors`, ts, { model: 'tiny' });
 * const r = loadCheckpoint(`${dir}/tiny.safetensors`, { model: dense({ nf: 2 }), opt, inShape: [3] });
 * if (r._tag === 'Right') {
 *   console.log(r.right.trainState.step, r.right.config); // 0 { model: "tiny" }
 *   disposeTrainState(r.right.trainState);
 * }
 * // A model of another width: a Left listing every misfit.
 * const misfit = loadCheckpoint(`${dir}/tiny.safetensors`, { model: dense({ nf: 4 }), opt, inShape: [3] });
 * if (misfit._tag === 'Left') console.log(misfit.left.problems[0]); // params.bias: expected shape [4], got [2]
 * disposeTrainState(ts);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const loadCheckpoint = (file: string, template: CheckpointTemplate): Either<CheckpointError, Loaded> => {
  const cannot = (why: string) => left(new CheckpointError(file, [`cannot read: ${why}`]));
  let fd: number;
  try {
    // Opening a FIFO would block until a writer came: only regular files are opened (and non-blocking, for a race).
    if (!fs.statSync(file).isFile()) return cannot('not a regular file');
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (e) {
    return cannot((e as Error).message);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return cannot('not a regular file');
    return decodeFrom(file, fileSource(fd, stat.size), template);
  } catch (e) {
    if (e instanceof ReadFailure) return cannot(e.message);
    throw e;
  } finally {
    fs.closeSync(fd);
  }
};

/**
 * {@link loadCheckpoint} for scripts: throws the `CheckpointError`.
 *
 * @example
 * ```ts
 * import { adamW, dense, disposeTrainState, initTrainState, prngKey } from 'tsnn';
 * import { loadCheckpointOrThrow, saveCheckpoint } from 'tsnn/node';
 *
 * const dir = Deno.makeTempDirSync();
 * const opt = adamW(1e-3), ts = initTrainState(dense({ nf: 2 }), opt, prngKey(0), [3]);
 * await saveCheckpoint(`${dir}/best.safetensors`, ts);
 * const { trainState } = loadCheckpointOrThrow(`${dir}/best.safetensors`, { model: dense({ nf: 2 }), opt, inShape: [3] });
 * console.log(trainState.step); // 0
 * disposeTrainState(trainState);
 * disposeTrainState(ts);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const loadCheckpointOrThrow = (file: string, template: CheckpointTemplate): Loaded => {
  const r = loadCheckpoint(file, template);
  if (isLeft(r)) throw r.left;
  return r.right;
};
