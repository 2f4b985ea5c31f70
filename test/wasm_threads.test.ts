/**
 * The threaded wasm engine: the tfjs internals its shim relies on (so that a
 * tfjs upgrade that moves one fails here), training on 2 XNNPACK threads in a
 * fresh process under this runtime (the same results as 1 thread, the
 * library's SIMD kernels on the shared memory, heap views that follow a
 * grow, a process that exits by itself), and the `threads` option's errors.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import { selectBackend } from '../mod.ts';
import { THREADED_GLUE } from '../src/backend/wasm_threads.ts';
import { runScript } from './fixtures/run.ts';

const bundle = fs.readFileSync(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'), 'utf8');

describe('the tfjs internals the thread shim relies on', () => {
  test('tfjs-backend-wasm is the version the shim was written against, loaded from its Node bundle', () => {
    const pkg = JSON.parse(fs.readFileSync(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'), 'utf8'));
    assert.equal(pkg.version, '4.22.0', 'a new tfjs-backend-wasm: re-check every pin below against its glue, then update this one');
  });
  test('each glue detail the shim answers is still there', () => {
    const pins: [string, string][] = [
      ["if (ENV.get('IS_NODE')) {", `${THREADED_GLUE.flag} is forced off on Node, so the shim sets it`],
      [`var pthreadPoolSize = ${THREADED_GLUE.poolSize}`, 'the pool the glue starts at load, while the shim is in place'],
      ['commonjsGlobal.Worker = nodeWorkerThreads.Worker', 'the glue installs worker_threads.Worker, which refuses blob: URLs'],
      [`locateFile("${THREADED_GLUE.workerFile}")`, 'the pthread script, which tfjs serves as a blob: URL'],
      [`mainScriptUrlOrBlob = new Blob(["var ${THREADED_GLUE.factoryName} = " +`, 'the main script, a Blob of the factory source'],
      ['"urlOrBlob": Module["mainScriptUrlOrBlob"] || _scriptDir', "the 'load' message that carries it"],
      ['importScripts(e.data.urlOrBlob)', 'the pthread loads a string main script with importScripts'],
      ['worker.ref();', 'a running pthread refs its worker: the shim ignores that, or the process never exits'],
      ['return require$$4.cpus().length', `the core count the build divides by ${THREADED_GLUE.coresPerThread} to cap its threads`],
      ['Module["wasmMemory"] = wasmMemory', 'the shared memory the library kernels import'],
    ];
    for (const [text, why] of pins) assert.ok(bundle.includes(text), `tfjs-backend-wasm's glue no longer has ${JSON.stringify(text)} (${why})`);
  });
  test("the factory's source names no bundle variable the pthreads lack", () => {
    const start = bundle.indexOf('var tfjsBackendWasmThreadedSimd$1');
    const end = bundle.indexOf('var wasmWorkerContents');
    assert.ok(start > 0 && end > start, 'the threaded factory is no longer where the shim expects it');
    const factory = bundle.slice(start, end);
    const used = new Set(factory.match(/\brequire\$\$\d+\b|\b__(?:values|read|spreadArray|assign|awaiter|generator|extends)\b|\bcommonjsGlobal\b/g));
    const missing = [...used].filter((n) => !(THREADED_GLUE.freeNames as readonly string[]).includes(n));
    assert.deepEqual(missing, [], `the threaded factory refers to ${missing.join(', ')}, which the shim does not define in its pthreads`);
  });
});

interface StepReport {
  reason: string;
  threads: number;
  losses: number[];
  checksum: number;
  shared: boolean;
  kernelsBuilt: boolean;
  heapFollows?: boolean;
  heapReserved?: boolean;
  fitSteps?: number;
}

const run = (args: string[]): StepReport => {
  const r = runScript(new URL('./fixtures/threaded_step.ts', import.meta.url).pathname, args, { timeoutMs: 180_000 });
  // A timeout here (status null) would mean the pool threads kept the process alive.
  assert.equal(r.status, 0, `the threaded fixture failed (${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
};

describe('training on threaded wasm, in a fresh process', () => {
  test('2 threads train as 1 does, the SIMD kernels run on the shared memory, and the heap views follow a grow', () => {
    const two = run(['--threads', '2', '--grow']);
    const one = run(['--threads', '1']);
    assert.equal(two.threads, 2, 'tfjs reports the thread count asked for (its cap of half the cores is lifted)');
    assert.equal(one.threads, 1);
    assert.match(two.reason, /2 threads \(requested by option\)/);
    assert.equal(two.shared, true, 'the threaded build runs on a shared memory');
    assert.equal(one.shared, false);
    assert.equal(two.kernelsBuilt, true, "the library's SIMD kernels link against the shared memory");
    assert.equal(two.heapReserved, true, 'the shared heap is reserved at start, so the pool never grows it');
    assert.equal(two.heapFollows, true, "tfjs's heap views follow the memory after it grows");
    assert.equal(two.fitSteps, 4, 'fit trains on 2 threads at batch 64');
    for (let i = 0; i < 3; i++) {
      assert.ok(Math.abs(two.losses[i] - one.losses[i]) <= 1e-5 * Math.abs(one.losses[i]), `loss ${i}: ${two.losses[i]} vs ${one.losses[i]}`);
    }
    assert.ok(Math.abs(two.checksum - one.checksum) <= 1e-5 * one.checksum, `params: ${two.checksum} vs ${one.checksum}`);
    assert.ok(two.losses[2] < two.losses[0], `training lowers the loss: ${two.losses}`);
  });
});

describe('selectBackend threads', () => {
  test('a bad count is refused, naming the option or NN_THREADS', async () => {
    for (const bad of [0, 9, 1.5, '2']) {
      await assert.rejects(
        selectBackend({ backend: 'cpu', threads: bad as number }),
        /selectBackend\.threads: expected an integer from 1 to 8 \(the threaded build's pool\), got/,
      );
    }
    const before = process.env.NN_THREADS;
    process.env.NN_THREADS = 'two';
    try {
      await assert.rejects(selectBackend({ backend: 'cpu' }), /NN_THREADS: expected an integer from 1 to 8 \(the threaded build's pool\), got "two"/);
    } finally {
      if (before === undefined) delete process.env.NN_THREADS;
      else process.env.NN_THREADS = before;
    }
  });
  test('once wasm has started, another count is refused rather than ignored', async () => {
    const first = await selectBackend({ backend: 'wasm' });
    const running = Number(/(\d+) threads?/.exec(first.reason)![1]);
    await assert.rejects(
      selectBackend({ backend: 'wasm', threads: running === 1 ? 2 : 1 }),
      new RegExp(`selectBackend\\.threads: the wasm backend already runs on ${running} thread`),
    );
    assert.match((await selectBackend({ backend: 'wasm', threads: running })).reason, /already started/);
  });
});
