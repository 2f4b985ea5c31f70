/**
 * tfjs-backend-wasm's threaded SIMD build (XNNPACK over a pthread pool) under
 * Node and Deno. tfjs turns threads off on Node (tfjs issue #3830) because
 * its emscripten glue starts each pthread as `new Worker('blob:...')`, which
 * `node:worker_threads` refuses. This module supplies what the glue expects:
 * a `Worker` that runs a `blob:` script, and a way for the pthreads to load
 * the main script, which tfjs hands over as a Blob of the bundle's factory.
 *
 * Every tfjs internal this relies on is named in {@link THREADED_GLUE} and
 * pinned by `test/wasm_threads.test.ts`, so that a tfjs upgrade that moves
 * one fails a test instead of a user.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { ConfigError } from '../errors.ts';
import { showValue } from '../config.ts';
import { importOptional } from '../optional_import.ts';

/** A Node builtin by a specifier bundlers leave alone: this module is in browser bundles, but these calls run only on Node and Deno. */
const nodeBuiltin = async <M>(name: string): Promise<M> => {
  const r = await importOptional<M>(name);
  if (!('module' in r)) throw new Error(`tsnn: cannot load ${name} for the wasm threads: ${r.message}`);
  return r.module;
};
type NodeOs = { default: { availableParallelism?(): number; cpus(): unknown[] } };

/**
 * The glue's internals the shim depends on (tfjs-backend-wasm 4.22.0): the
 * flag tfjs forces off on Node, the pool the glue starts before any op runs,
 * and the free names of the bundle that its factory's source refers to when
 * a pthread evaluates it.
 */
export const THREADED_GLUE = {
  flag: 'WASM_HAS_MULTITHREAD_SUPPORT',
  /** `PThread.initMainThread` starts this many workers; more threads would start one later, outside the shim. */
  poolSize: 8,
  workerFile: 'tfjs-backend-wasm-threaded-simd.worker.js',
  /**
   * The build caps its pool at `emscripten_num_logical_cores() / 2` (it assumes two hyper-threads a core), which
   * the glue reads from `os.cpus().length` on Node: one thread on a 2-vCPU machine, whatever was asked.
   */
  coresPerThread: 2,
  /** The factory's global name in the main-script Blob (`var WasmBackendModuleThreadedSimd = ...`). */
  factoryName: 'WasmBackendModuleThreadedSimd',
  freeNames: ['require$$0', 'require$$1', 'require$$3', 'require$$4', 'commonjsGlobal', '__values', '__read', '__spreadArray'],
} as const;

/** Marks a `load` message's main script, sent as text (a pthread cannot read the main thread's Blob URLs). */
const MAIN_SCRIPT = 'tsnn:threaded-main-script';

/**
 * What each pthread runs first: it waits for the glue's worker script and the
 * main script, defines the bundle's free names (the main script is the
 * factory's `toString()` and still names the bundle's `require`s and tslib
 * helpers), then evaluates the worker script, which takes the glue's messages.
 */
const BOOTSTRAP = `
const { parentPort } = require('node:worker_threads');
parentPort.once('message', ({ workerScript }) => {
  const g = globalThis;
  g.require = require;
  g.require$$0 = require('fs'); g.require$$1 = require('path'); g.require$$3 = require('perf_hooks'); g.require$$4 = require('os');
  g.commonjsGlobal = g;
  g.__values = (o) => { const it = typeof Symbol === 'function' && o[Symbol.iterator]; return it ? it.call(o) : { next: (i => () => ({ value: o[i], done: i++ >= o.length }))(0) }; };
  g.__read = (o, n) => { const r = []; for (const v of o) { if (n !== undefined && r.length >= n) break; r.push(v); } return r; };
  g.__spreadArray = (to, from) => to.concat(Array.prototype.slice.call(from));
  // Deno's worker globals are read-only; the glue assigns them.
  for (const k of ['self', 'location', 'postMessage']) {
    const d = Object.getOwnPropertyDescriptor(g, k);
    if (d && d.configurable) Object.defineProperty(g, k, { value: g[k], writable: true, configurable: true, enumerable: true });
  }
  // The glue's 'load' message carries the main script's text beside its marker.
  parentPort.on('message', (m) => { if (m && m.urlOrBlob === ${JSON.stringify(MAIN_SCRIPT)}) g.tsnnMainScript = m.mainScript; });
  (0, eval)(workerScript);
  const importScripts = g.importScripts;
  g.importScripts = (f) => f === ${JSON.stringify(MAIN_SCRIPT)} ? (0, eval)(g.tsnnMainScript) : importScripts(f);
});
`;

type NodeWorkerClass = new (src: string, opts?: { eval?: boolean }) => {
  postMessage(m: unknown, transfer?: unknown[]): void;
};

/** The text of each main-script Blob, read once for all the pool's workers. */
const blobTexts = new WeakMap<Blob, Promise<string>>();
const textOf = (b: Blob): Promise<string> => {
  if (!blobTexts.has(b)) blobTexts.set(b, b.text());
  return blobTexts.get(b)!;
};

/**
 * A `worker_threads.Worker` that also runs the `blob:` URLs made while the
 * glue loads. Blob contents can only be read asynchronously, so messages sent
 * while a read is pending wait in order behind it.
 */
const blobWorkerClass = (Base: NodeWorkerClass, blobs: Map<string, Blob>): NodeWorkerClass => {
  return class BlobWorker extends Base {
    #chain: Promise<void> | null = null;
    constructor(src: string, opts?: { eval?: boolean }) {
      const blob = typeof src === 'string' ? blobs.get(src) : undefined;
      super(blob ? BOOTSTRAP : src, blob ? { eval: true } : opts);
      if (blob) this.#after(async () => super.postMessage({ workerScript: await textOf(blob) }));
    }
    /** The glue refs a worker while it runs a pthread; XNNPACK's pool threads never end, and would keep the process alive. */
    ref(): void {}
    override postMessage(m: unknown, transfer?: unknown[]): void {
      const main = (m as { cmd?: string; urlOrBlob?: unknown })?.urlOrBlob;
      if (this.#chain === null && !(main instanceof Blob)) return super.postMessage(m, transfer);
      this.#after(async () => {
        // The pthread cannot read this thread's Blob URLs: the main script goes as text, behind a marker.
        const sent = main instanceof Blob ? { ...(m as object), urlOrBlob: MAIN_SCRIPT, mainScript: await textOf(main) } : m;
        super.postMessage(sent, transfer);
      });
    }
    #after(send: () => Promise<void>): void {
      const next: Promise<void> = (this.#chain ?? Promise.resolve()).then(send).finally(() => {
        if (this.#chain === next) this.#chain = null;
      });
      this.#chain = next;
    }
  };
};

declare const process: { versions?: { node?: string } } | undefined;

/** Node or Deno: a runtime with `node:worker_threads`. */
const hasWorkerThreads = (): boolean => typeof process !== 'undefined' && typeof process?.versions?.node === 'string';

/**
 * The default XNNPACK thread count: one per core (up to the pool's 8) on Node
 * and Deno; undefined in a browser, where tfjs chooses.
 */
export const defaultWasmThreads = async (): Promise<number | undefined> => {
  if (!hasWorkerThreads()) return undefined;
  const os = (await nodeBuiltin<NodeOs>('node:os')).default;
  const cores = os.availableParallelism?.() ?? os.cpus().length;
  return Math.max(1, Math.min(cores, THREADED_GLUE.poolSize));
};

/**
 * Run `init` (which initialises the wasm backend) with the threaded build
 * switched on for `threads` XNNPACK threads, the calling thread included.
 * Must run before the wasm backend is first initialised in this process.
 */
export const withWasmThreads = async <T>(threads: number, wasm: { setThreadsCount(n: number): void }, init: () => Promise<T>): Promise<T> => {
  if (!Number.isInteger(threads) || threads < 1 || threads > THREADED_GLUE.poolSize) {
    throw new ConfigError([
      `selectBackend.threads: expected an integer from 1 to ${THREADED_GLUE.poolSize} (the threaded build's pool), got ${showValue(threads)}`,
    ]);
  }
  wasm.setThreadsCount(threads);
  if (threads === 1) return init();
  if (!hasWorkerThreads()) {
    // A browser runs the threaded build itself where the page is cross-origin isolated; tfjs decides.
    return init();
  }
  const { Worker: NodeWorker } = await nodeBuiltin<{ Worker: unknown }>('node:worker_threads');
  const g = globalThis as Record<string, unknown>;
  const blobs = new Map<string, Blob>();
  const createObjectURL = URL.createObjectURL;
  const BlobWorker = blobWorkerClass(NodeWorker as unknown as NodeWorkerClass, blobs);
  const before = Object.getOwnPropertyDescriptor(g, 'Worker');
  // While the module starts (that is when the cap is computed), os.cpus() reports enough cores for the threads asked.
  const os = (await nodeBuiltin<NodeOs>('node:os')).default;
  const cpus = os.cpus;
  os.cpus = () => {
    const real = cpus.call(os);
    return real.length >= threads * THREADED_GLUE.coresPerThread
      ? real
      : Array.from({ length: threads * THREADED_GLUE.coresPerThread }, (_, i) => real[i % real.length]);
  };
  // The glue assigns `Worker = worker_threads.Worker` and then starts its pool: keep ours in place for that.
  Object.defineProperty(g, 'Worker', { configurable: true, get: () => BlobWorker, set: () => {} });
  URL.createObjectURL = ((b: Blob) => {
    const url = createObjectURL(b);
    if (b instanceof Blob) blobs.set(url, b);
    return url;
  }) as typeof URL.createObjectURL;
  tf.env().set(THREADED_GLUE.flag, true);
  try {
    return await init();
  } finally {
    URL.createObjectURL = createObjectURL;
    os.cpus = cpus;
    if (before) Object.defineProperty(g, 'Worker', before);
    else delete g.Worker;
  }
};

const VIEWS = {
  HEAP8: Int8Array,
  HEAPU8: Uint8Array,
  HEAP16: Int16Array,
  HEAPU16: Uint16Array,
  HEAP32: Int32Array,
  HEAPU32: Uint32Array,
  HEAPF32: Float32Array,
  HEAPF64: Float64Array,
} as const;

/** The heap the threaded build reserves at start: 2 GiB of address space, committed by the OS only as it is touched. */
export const RESERVED_HEAP_BYTES = 2 ** 31;

/**
 * Make the threaded build's heap safe to read from this thread. A grow of the
 * shared memory made while the pthread pool runs leaves this thread's
 * `memory.buffer` (and even `grow(0)`) at the old length for a while: on Node
 * 20 and Deno 2, training then found a tensor lying past the end of tfjs's
 * heap views, and tfjs's `typedArrayFromHeap` threw a RangeError. So the heap
 * is grown once, here, to {@link RESERVED_HEAP_BYTES} (untouched pages cost
 * no memory), and tfjs's views (`HEAPU8`, `HEAPF32`, ...) become getters
 * that follow the buffer after any later grow made from this thread.
 */
export const keepHeapViewsCurrent = (module: Record<string, unknown> & { wasmMemory?: WebAssembly.Memory }): void => {
  const memory = module.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory) || !(memory.buffer instanceof SharedArrayBuffer)) return;
  const short = RESERVED_HEAP_BYTES - (memory.buffer as ArrayBufferLike).byteLength;
  try {
    if (short > 0) memory.grow(Math.ceil(short / 65536));
  } catch {
    // No address space for it (a strict overcommit policy, say): the heap grows as it needs, as before.
  }
  for (const [name, V] of Object.entries(VIEWS)) {
    const View = V as unknown as new (b: ArrayBufferLike) => { readonly buffer: ArrayBufferLike };
    let view = new View(memory.buffer);
    Object.defineProperty(module, name, {
      configurable: true,
      get: () => view.buffer.byteLength === memory.buffer.byteLength ? view : (view = new View(memory.buffer)),
      set: () => {}, // the glue's own updates: the getter already follows the buffer
    });
  }
};
