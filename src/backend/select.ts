/**
 * Backend selection: an explicit option, else `NN_BACKEND`, else the best
 * that loads: tfjs-node-gpu, tfjs-node, webgpu on a hardware adapter, wasm,
 * cpu. The choice and its reason are recorded for `backendInfo()` and the
 * epoch table's header.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import * as t from 'io-ts';
import { func, guard, optionSet, showValue } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { backendInfo, setBackendReason } from '../backend_info.ts';
import { installEngine } from './install.ts';
import { findGpu, type GpuAdapterReport, useGpu } from './webgpu.ts';
import { firstLine, importOptional } from '../optional_import.ts';
import { defaultWasmThreads, keepHeapViewsCurrent, THREADED_GLUE, withWasmThreads } from './wasm_threads.ts';
import { preferRelaxedSimd, relaxedSimdInUse } from './wasm_asm.ts';

/** The backends this library can run on. */
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

const NAMES: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/** Options of {@link selectBackend}. */
export interface SelectOptions {
  /** Use exactly this backend (overrides `NN_BACKEND`). */
  readonly backend?: BackendName;
  /** Where one-line fallback warnings go, and training's notice that the cpu backend is slow. Default `console.warn`. */
  readonly warn?: (line: string) => void;
  /**
   * The native packages to try, in order. Default
   * `['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']`; tests and custom builds may pass others.
   */
  readonly nativePackages?: readonly string[];
  /**
   * Where the wasm backend's `.wasm` files are served from, for a browser
   * bundle: a URL prefix ending in `/` (tfjs-backend-wasm's `setWasmPaths`).
   * Default: next to the script, as tfjs-backend-wasm looks for them.
   */
  readonly wasmPaths?: string;
  /**
   * XNNPACK threads for the wasm backend, the calling thread included (overrides `NN_THREADS`). Default on
   * Node and Deno: every core, up to 8; 1 runs the single-threaded SIMD build. Fixed once the wasm
   * backend has started in a process.
   */
  readonly threads?: number;
  /**
   * Let the library's own wasm SIMD kernels (Adam, BatchNorm) use relaxed SIMD's fused multiply-add where the
   * engine supports it (Deno 2, Node 22; Node 20 with `--experimental-wasm-relaxed-simd`). Default true.
   * Fused and unfused multiply-adds round differently, so `false` gives the same bits on every engine.
   */
  readonly relaxedSimd?: boolean;
}

// Checks names and types (a misspelt option is an error, not ignored); `backend` keeps its own message below.
const SelectOptionSet = optionSet('selectBackend', {}, {
  backend: t.unknown,
  warn: func<(line: string) => void>('a function (line) => void'),
  nativePackages: t.readonlyArray(t.string, 'a list of package names'),
  wasmPaths: guard<string>("a URL prefix ending in '/'", (u) => typeof u === 'string' && u.endsWith('/')),
  threads: t.unknown, // checked with the NN_THREADS value, in one message
  relaxedSimd: t.boolean,
});

declare const process: { versions?: { node?: string }; env?: Record<string, string | undefined> } | undefined;

/** Node or Deno (whose `process` global has Node's `versions.node`), where a native tfjs package can load. */
const serverRuntime = (): boolean => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** Try the native TensorFlow binding from `pkg`; null when it works, else why not. */
const tryNative = async (pkg: string): Promise<string | null> => {
  const loaded = await importOptional(pkg); // never tried in a browser
  if (!('module' in loaded)) {
    const msg = loaded.message;
    if (/tfjs_binding|napi/.test(msg)) return `broken install: its native binding is missing (${msg}); reinstall it where libtensorflow can be downloaded`;
    return loaded.missing ? 'not installed' : `broken install: ${msg}`;
  }
  try {
    if (!(await tf.setBackend('tensorflow'))) return 'its backend failed to initialise';
    tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync());
    return null;
  } catch (e) {
    return `failed at first use (CUDA/cuDNN mismatch?): ${firstLine(e)}`;
  }
};

/**
 * Emscripten's Node glue installs `uncaughtException`/`unhandledRejection`
 * handlers that rethrow from inside the minified wasm loader, so any later
 * crash prints 30 KB of its source before the real error. Remove the ones
 * that appeared while loading.
 */
const withoutEmscriptenHandlers = async <T>(f: () => Promise<T>): Promise<T> => {
  const proc = (globalThis as { process?: unknown }).process as { listeners(e: string): unknown[]; removeListener(e: string, l: unknown): void } | undefined;
  if (typeof proc?.listeners !== 'function') return f();
  const events = ['uncaughtException', 'unhandledRejection'];
  const before = events.map((e) => new Set(proc.listeners(e)));
  try {
    return await f();
  } finally {
    events.forEach((e, i) => proc.listeners(e).filter((l) => !before[i].has(l)).forEach((l) => proc.removeListener(e, l)));
  }
};

/** A thread count asked for, where it came from, and the name an error gives it. */
interface AskedThreads {
  readonly threads: number;
  readonly source: 'option' | 'NN_THREADS';
  readonly name: 'selectBackend.threads' | 'NN_THREADS';
}

/** The thread count asked for, from the option or NN_THREADS; undefined for the default. */
const requestedThreads = (opts: SelectOptions): AskedThreads | undefined => {
  const env = typeof process !== 'undefined' ? process.env?.NN_THREADS : undefined;
  if (opts.threads === undefined && (env === undefined || env === '')) return undefined;
  const fromOption = opts.threads !== undefined;
  const value = fromOption ? opts.threads : Number(env);
  const name = fromOption ? 'selectBackend.threads' : 'NN_THREADS';
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > THREADED_GLUE.poolSize) {
    throw new ConfigError([
      `${name}: expected an integer from 1 to ${THREADED_GLUE.poolSize} (the threaded build's pool), got ${showValue(fromOption ? value : env)}`,
    ]);
  }
  return { threads: value, source: fromOption ? 'option' : 'NN_THREADS', name };
};

/** Start (or reuse) the wasm backend: its thread count in words when it works, else why not. */
const useWasm = async (wasmPaths: string | undefined, asked: AskedThreads | undefined): Promise<{ why: string } | { threads: string }> => {
  try {
    return await withoutEmscriptenHandlers(async () => {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      installEngine(); // again, now that the wasm kernels it wraps are registered
      const registry = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry;
      if (registry.wasm !== undefined) {
        // tfjs starts a backend once per process: its threads cannot change afterwards.
        const running = wasm.getThreadsCount();
        if (asked && asked.threads !== running) {
          throw new ConfigError([
            `${asked.name}: the wasm backend already runs on ${running} thread${
              running === 1 ? '' : 's'
            } in this process (threads are fixed when it first starts), got ${asked.threads}`,
          ]);
        }
        if (!(await tf.setBackend('wasm'))) return { why: 'the wasm backend failed to initialise' };
        return { threads: threadWords(running, 'already started') };
      }
      if (wasmPaths !== undefined) wasm.setWasmPaths(wasmPaths);
      const threads = asked?.threads ?? await defaultWasmThreads();
      const ok = threads === undefined ? await tf.setBackend('wasm') : await withWasmThreads(threads, wasm, () => tf.setBackend('wasm'));
      if (!ok) return { why: 'the wasm backend failed to initialise' };
      keepHeapViewsCurrent((tf.backend() as unknown as { wasm: Record<string, unknown> }).wasm);
      const why = asked ? `requested by ${asked.source}` : threads === undefined ? 'as tfjs chose: a browser' : 'default: one per core';
      return { threads: threadWords(wasm.getThreadsCount(), why) };
    });
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    return { why: firstLine(e) };
  }
};

const threadWords = (n: number, why: string) => `${n} thread${n === 1 ? '' : 's'} (${why})${relaxedSimdInUse() ? ', relaxed SIMD' : ''}`;

const adapterWords = (r: GpuAdapterReport) => `adapter "${r.description}" via ${r.via}${r.software ? ' (a software adapter: it runs on the CPU)' : ''}`;

/** The webgpu backend on the adapter found: null and the adapter in words, or why it could not be had. */
const webgpu = async (): Promise<{ why: string | null; adapter?: GpuAdapterReport }> => {
  const found = await findGpu();
  if ('why' in found) return { why: found.why };
  return { why: await useGpu(found.adapter), adapter: found.report };
};

/**
 * Choose and initialise the backend, and install the library's engine code
 * (`installEngine`: kernels, fused ops, gradient rewrites), which the wasm
 * backend needs to train (and to train fast).
 *
 * @example
 * ```ts
 * import { selectBackend } from 'tsnn';
 *
 * // With no options: tfjs-node where installed, else webgpu on a hardware GPU, else wasm, else cpu (NN_BACKEND overrides).
 * const { name, reason } = await selectBackend({ backend: 'cpu' });
 * console.log(name, reason); // cpu requested by option
 * ```
 */
export const selectBackend = async (opts: SelectOptions = {}): Promise<{ name: string; reason: string }> => {
  SelectOptionSet.decode(opts);
  preferRelaxedSimd(opts.relaxedSimd ?? true);
  installEngine();
  const warn = opts.warn ?? ((l: string) => console.warn(l));
  const env = typeof process !== 'undefined' ? process.env?.NN_BACKEND : undefined;
  const fromOption = opts.backend !== undefined;
  const requested = fromOption ? opts.backend : (env ? env as BackendName : undefined);
  if (requested !== undefined && !NAMES.includes(requested)) {
    throw new ConfigError([`${fromOption ? 'selectBackend.backend' : 'NN_BACKEND'}: expected one of ${NAMES.join(', ')}, got ${showValue(requested)}`]);
  }
  const source = fromOption ? 'option' : 'NN_BACKEND';
  const threads = requestedThreads(opts);
  if (requested === 'cpu') {
    await tf.setBackend('cpu');
    setBackendReason(`requested by ${source}`, opts.warn);
    return backendInfo();
  }
  if (requested === 'webgpu') {
    const r = await webgpu();
    if (r.why !== null) throw new Error(`backend webgpu (requested by ${source}) is unavailable: ${r.why}${r.adapter ? ` (${adapterWords(r.adapter)})` : ''}`);
    installEngine(); // again, now that the webgpu kernels are registered
    setBackendReason(`requested by ${source}; ${adapterWords(r.adapter!)}`, opts.warn);
    return backendInfo();
  }
  if (requested === 'wasm') {
    const r = await useWasm(opts.wasmPaths, threads);
    if ('why' in r) throw new Error(`backend wasm (requested by ${source}) failed: ${r.why}`);
    setBackendReason(`requested by ${source}; ${r.threads}`, opts.warn);
    return backendInfo();
  }
  const skipped: string[] = [];
  // A browser has no native engine: the packages are not even tried.
  const natives = serverRuntime() ? opts.nativePackages ?? ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] : [];
  if (!serverRuntime()) skipped.push('no native engine in a browser');
  for (const pkg of natives) {
    const why = await tryNative(pkg);
    if (why === null) {
      installEngine(); // again: the native package's tfjs umbrella re-registers tfjs's stock gradients
      setBackendReason(requested ? `requested by ${source}, via ${pkg}` : `default: ${pkg} loaded`, opts.warn);
      return backendInfo();
    }
    skipped.push(`${pkg} ${why}`);
    if (why.startsWith('broken') || why.startsWith('failed') || why.startsWith('its backend')) {
      warn(`tsnn: ${pkg} is installed but unusable (${why}); falling back. Reinstall it or set NN_BACKEND=wasm to silence this.`);
    }
  }
  if (requested === 'tensorflow') throw new Error(`backend tensorflow (requested by ${source}) is unavailable: ${skipped.join('; ')}`);
  const gpu = await findGpu();
  if ('why' in gpu) skipped.push(`webgpu: ${gpu.why}`);
  else if (gpu.report.software) skipped.push(`webgpu: ${adapterWords(gpu.report)}, slower than wasm (ask for backend 'webgpu' to use it)`);
  else {
    const why = await useGpu(gpu.adapter);
    if (why === null) {
      installEngine();
      setBackendReason(`default: ${[...skipped, `webgpu on ${adapterWords(gpu.report)}`].join('; ')}`, opts.warn);
      return backendInfo();
    }
    skipped.push(`webgpu: ${why}`);
    if (!why.endsWith('is not installed')) {
      warn(`tsnn: WebGPU has a GPU adapter ("${gpu.report.description}") but it is unusable (${why}); falling back to wasm.`);
    }
  }
  const r = await useWasm(opts.wasmPaths, threads);
  if ('threads' in r) {
    setBackendReason(`default: ${skipped.join('; ')}; wasm on ${r.threads}`, opts.warn);
    return backendInfo();
  }
  const wasmWhy = r.why;
  warn(`tsnn: the wasm backend failed (${wasmWhy}); falling back to the slow cpu backend.`);
  await tf.setBackend('cpu');
  setBackendReason(`default: ${[...skipped, `wasm ${wasmWhy}`].join('; ')}`, opts.warn);
  return backendInfo();
};
