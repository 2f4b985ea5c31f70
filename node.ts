/**
 * tsnn's Node-only part (Node and Deno): what reads and writes files or
 * starts threads. Dataset files (IDX, Fashion-MNIST, image folders),
 * checkpoint files, a JSON-lines training log, and data-parallel training on
 * worker threads. Everything else is in the main entry, `tsnn`, which imports
 * no Node module and runs in a browser too.
 *
 * @example
 * ```ts
 * import { adamW, dense, disposeTrainState, initTrainState, prngKey } from 'tsnn';
 * import { loadCheckpointOrThrow, saveCheckpoint } from 'tsnn/node';
 *
 * const model = dense({ nf: 2 }), opt = adamW(1e-3);
 * const dir = Deno.makeTempDirSync(), file = `${dir}/tiny.safetensors`;
 * const ts = initTrainState(model, opt, prngKey(0), [3]);
 * await saveCheckpoint(file, ts, { model: 'tiny' });
 * const loaded = loadCheckpointOrThrow(file, { model, opt, inShape: [3] });
 * console.log(loaded.config); // { model: "tiny" }
 * disposeTrainState(loaded.trainState);
 * disposeTrainState(ts);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @module
 */

// ---------------------------------------------------------------------------
// Dataset files
// ---------------------------------------------------------------------------
export { DatasetError, encodeIdx, type Idx, parseIdx } from './src/data/idx.ts';
export {
  downloadFashionMnist,
  FASHION_MNIST_CLASSES,
  type FashionMnist,
  type FashionMnistOptions,
  loadFashionMnist,
  loadFashionMnistOrThrow,
  readFashionMnist,
} from './src/data/fashion_mnist.ts';
export { type ImageFolderOptions, loadImageFolder, readImages } from './src/data/image_folder.ts';

// ---------------------------------------------------------------------------
// Checkpoint files, and a training log
// ---------------------------------------------------------------------------
export { loadCheckpoint, loadCheckpointOrThrow, saveCheckpoint } from './src/io/checkpoint_file.ts';
export { saveCheckpoints, type SaveCheckpointsOptions } from './src/io/save_checkpoints.ts';
export { jsonLog, type JsonLogOptions } from './src/io/json_log.ts';
export { csvLogger, type CsvLoggerOptions } from './src/io/csv_logger.ts';
export { type PngOptions, savePlot, svgToPng } from './src/io/png.ts';
export { type LoadedModel, loadModel, MODEL_BUILDERS, type ModelBuilder, type TrainingAugmentation } from './src/io/load_model.ts';

// ---------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------
export { dataParallel, type ParallelOptions, type ParallelStep, parallelTrainStep } from './src/parallel/data_parallel.ts';
export type { ModelSpec, ModuleSpec } from './src/parallel/protocol.ts';
