// The consumer program's types: a consumer's tsc checks this file against the
// installed package's declarations (without skipLibCheck).
import { adamW, type AnyLayer, dataLoader, fit, type FitResult, prngKey, resNet, selectBackend } from 'tsnn';
import { checkShape, type LayerCase } from 'tsnn/laws';
import { installEngine } from 'tsnn/backend';
import { dataParallel, type ModelSpec, saveCheckpoints } from 'tsnn/node';

export const run = async (): Promise<FitResult> => {
  await selectBackend({ backend: 'wasm' });
  installEngine();
  const model: AnyLayer = resNet({ nIn: 1, nClasses: 10 });
  const c: LayerCase = { layer: model, inShape: [28, 28, 1], batch: 2, seed: 0 };
  await checkShape(c);
  const ds = { x: new Uint8Array(16 * 784), y: new Int32Array(16), shape: [28, 28, 1] };
  const spec: ModelSpec = { module: 'tsnn', export: 'resNet', args: [{ nIn: 1, nClasses: 10 }] };
  return fit(model, { train: dataLoader(ds, { batchSize: 8, key: prngKey(1) }) }, {
    epochs: 1,
    opt: adamW(1e-3),
    step: dataParallel({ workers: 2, spec }),
    callbacks: [saveCheckpoints({ path: 'best.safetensors', mode: 'best' })],
  });
};
