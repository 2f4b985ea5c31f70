/**
 * A tiny WebAssembly assembler: just enough to build small SIMD kernels that
 * run inside the tfjs wasm backend's own memory (imported as `env.memory`),
 * so a fused elementwise pass needs no copies. No toolchain is needed at
 * install or run time: the bytes are assembled here, validated by the engine.
 *
 * @module
 */

/** Unsigned LEB128. */
const uleb = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};

/** Signed LEB128. */
const sleb = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
};

const name = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const simd = (op: number): number[] => [0xfd, ...uleb(op)];

/** Value types. */
export const I32 = 0x7f, F32 = 0x7d, V128 = 0x7b;

/** The instructions the kernels use, as byte sequences. */
export const op: {
  readonly get: (i: number) => number[];
  readonly set: (i: number) => number[];
  readonly tee: (i: number) => number[];
  readonly i32Const: (n: number) => number[];
  readonly f32Const: (x: number) => number[];
  readonly i32Add: readonly number[];
  readonly i32Mul: readonly number[];
  readonly i32GeU: readonly number[];
  /** `block` and `loop` with no result; close each with `end`. */
  readonly block: readonly number[];
  readonly loop: readonly number[];
  readonly end: readonly number[];
  readonly br: (depth: number) => number[];
  readonly brIf: (depth: number) => number[];
  /** `v128.load`/`v128.store` with alignment hint 1 and offset 0: any address is fine. */
  readonly v128Load: readonly number[];
  readonly v128Store: readonly number[];
  /** The same, `offset` bytes past the address on the stack (a constant folded into the instruction). */
  readonly v128LoadAt: (offset: number) => number[];
  readonly v128StoreAt: (offset: number) => number[];
  readonly v128Zero: readonly number[];
  readonly f32x4Splat: readonly number[];
  readonly f32x4Sqrt: readonly number[];
  readonly f32x4Add: readonly number[];
  readonly f32x4Sub: readonly number[];
  readonly f32x4Mul: readonly number[];
  readonly f32x4Div: readonly number[];
  /** IEEE max: a NaN in either lane gives NaN. */
  readonly f32x4Max: readonly number[];
  /** `b < a ? b : a` and `a < b ? b : a`: one instruction each on x86; a NaN in `a` is kept, one in `b` is not. */
  readonly f32x4Pmin: readonly number[];
  readonly f32x4Pmax: readonly number[];
  /** Lane-wise `a != b` as an all-ones or all-zeros mask: `x != x` marks the NaNs. */
  readonly f32x4Ne: readonly number[];
  readonly v128Or: readonly number[];
  /**
   * Relaxed SIMD's `a·b + c` on `a b c`: fused (one rounding) or not, as the engine chooses, the same way on
   * every call. Only where {@link relaxedSimdSupported}; kernels write it through {@link madd}.
   */
  readonly f32x4RelaxedMadd: readonly number[];
} = {
  get: (i) => [0x20, ...uleb(i)],
  set: (i) => [0x21, ...uleb(i)],
  tee: (i) => [0x22, ...uleb(i)],
  i32Const: (n) => [0x41, ...sleb(n)],
  f32Const: (x) => [0x43, ...new Uint8Array(new Float32Array([x]).buffer)],
  i32Add: [0x6a],
  i32Mul: [0x6c],
  i32GeU: [0x4f],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth) => [0x0c, ...uleb(depth)],
  brIf: (depth) => [0x0d, ...uleb(depth)],
  v128Load: [...simd(0x00), 0x00, 0x00],
  v128Store: [...simd(0x0b), 0x00, 0x00],
  v128LoadAt: (offset) => [...simd(0x00), 0x00, ...uleb(offset)],
  v128StoreAt: (offset) => [...simd(0x0b), 0x00, ...uleb(offset)],
  v128Zero: [...simd(0x0c), ...new Array(16).fill(0)],
  f32x4Splat: simd(0x13),
  f32x4Sqrt: simd(0xe3),
  f32x4Add: simd(0xe4),
  f32x4Sub: simd(0xe5),
  f32x4Mul: simd(0xe6),
  f32x4Div: simd(0xe7),
  f32x4Max: simd(0xe9),
  f32x4Pmin: simd(0xea),
  f32x4Pmax: simd(0xeb),
  f32x4Ne: simd(0x42),
  v128Or: simd(0x50),
  f32x4RelaxedMadd: simd(0x105),
};

/**
 * `a·b + c` for code that pushes `a`, `b` and `c` (one v128 each, run in that
 * order): relaxed SIMD's fused multiply-add where `relaxed`, else a multiply
 * then an add.
 *
 * @example
 * ```ts
 * import { madd, op } from 'tsnn/backend';
 *
 * // a·b + c over three vectors loaded from the addresses in locals 0, 1 and 2.
 * const [a, b, c] = [op.get(0), op.get(1), op.get(2)].map((p) => [...p, ...op.v128Load]);
 * console.log(madd(a, b, c, false).length - madd(a, b, c, true).length); // 3: one instruction instead of two
 * ```
 */
export const madd = (a: readonly number[], b: readonly number[], c: readonly number[], relaxed: boolean | undefined): number[] =>
  relaxed ? [...a, ...b, ...c, ...op.f32x4RelaxedMadd] : [...a, ...b, ...op.f32x4Mul, ...c, ...op.f32x4Add];

/**
 * `for (v = 0; v < limit; v += step) { body }` with unsigned compares: `limit`
 * and `step` are code that pushes one i32 each.
 *
 * @example
 * ```ts
 * import { assembleModule, forLoop, I32, op } from 'tsnn/backend';
 *
 * // for (local1 = 0; local1 < param0; local1 += 1) { }
 * const code = forLoop(1, op.get(0), op.i32Const(1), []);
 * const spin = { name: 'spin', params: [I32], locals: [[1, I32]] as const, body: code };
 * console.log(WebAssembly.validate(assembleModule([spin]) as BufferSource)); // true
 * ```
 */
export const forLoop = (v: number, limit: readonly number[], step: readonly number[], body: readonly number[]): number[] => [
  ...op.i32Const(0),
  ...op.set(v),
  ...op.block,
  ...op.loop,
  ...op.get(v),
  ...limit,
  ...op.i32GeU,
  ...op.brIf(1),
  ...body,
  ...op.get(v),
  ...step,
  ...op.i32Add,
  ...op.set(v),
  ...op.br(0),
  ...op.end,
  ...op.end,
];

/** One exported function: its parameter types, extra locals (as [count, type] runs) and body. */
export interface WasmFunction {
  /** The export's name. */
  readonly name: string;
  /** The parameter types ({@link I32}, {@link F32}, {@link V128}); locals 0.. are the parameters. */
  readonly params: readonly number[];
  /** Extra locals after the parameters, as `[count, type]` runs. */
  readonly locals: readonly (readonly [number, number])[];
  /** The code, without the final `end`. */
  readonly body: readonly number[];
}

/**
 * Assemble a module that imports `env.memory` and exports the given
 * functions (no results).
 *
 * @example
 * ```ts
 * import { assembleModule } from 'tsnn/backend';
 *
 * const bytes = assembleModule([{ name: 'nop', params: [], locals: [], body: [] }]);
 * console.log(WebAssembly.validate(bytes as BufferSource)); // true
 * ```
 */
export const assembleModule = (fns: readonly WasmFunction[], memory: { readonly shared?: boolean } = {}): Uint8Array =>
  new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(fns.map((f) => [0x60, ...vec(f.params.map((t) => [t])), 0x00]))),
    // A shared memory (the threaded build's) must be imported as shared, with a maximum: 65536 pages admits any.
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...(memory.shared ? [0x03, 0x00, ...uleb(65536)] : [0x00, 0x00])]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(
      10,
      vec(fns.map((f) => {
        const code = [...vec(f.locals.filter(([n]) => n > 0).map(([n, t]) => [...uleb(n), t])), ...f.body, ...op.end];
        return [...uleb(code.length), ...code];
      })),
    ),
  ]);

/**
 * The `WebAssembly.Memory` of the active tfjs wasm backend, or undefined when
 * the backend is not wasm or does not expose it.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { wasmBackendMemory } from 'tsnn/backend';
 *
 * console.log(wasmBackendMemory(tf.backend())); // undefined on the default cpu backend
 * ```
 */
export const wasmBackendMemory = (backend: unknown): WebAssembly.Memory | undefined => {
  // The single-threaded builds export their memory; the threaded build creates it in JS and imports it.
  const wasm = (backend as { wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown } })?.wasm;
  const m = wasm?.asm?.memory ?? wasm?.wasmMemory;
  return m instanceof WebAssembly.Memory ? m : undefined;
};

/** How an assembled module must declare the memory it imports. */
export interface MemoryKind {
  /** The threaded build's memory is a shared one. */
  readonly shared?: boolean;
}

/** What a kernel module is built for: its memory, and whether it may use relaxed SIMD. */
export interface KernelTarget extends MemoryKind {
  /** Relaxed SIMD's fused multiply-add is supported and wanted (see {@link relaxedSimdInUse}). */
  readonly relaxedSimd?: boolean;
}

let relaxedSupported: boolean | undefined;

/**
 * Whether this engine runs relaxed SIMD (V8 12+, so Deno 2 and Node 22; Node
 * 20 with `--experimental-wasm-relaxed-simd`): a function that makes three
 * v128 constants and fuses them validates.
 *
 * @example
 * ```ts
 * import { relaxedSimdSupported } from 'tsnn/backend';
 *
 * console.log(typeof relaxedSimdSupported()); // boolean
 * ```
 */
export const relaxedSimdSupported = (): boolean => {
  if (relaxedSupported === undefined) {
    const v128 = [0xfd, 0x0c, ...Array(16).fill(0)];
    relaxedSupported = WebAssembly.validate(
      new Uint8Array([
        0,
        97,
        115,
        109,
        1,
        0,
        0,
        0,
        1,
        4,
        1,
        96,
        0,
        0,
        3,
        2,
        1,
        0,
        10,
        62,
        1,
        60,
        0,
        ...v128,
        ...v128,
        ...v128,
        ...op.f32x4RelaxedMadd,
        0x1a,
        0x0b,
      ]),
    );
  }
  return relaxedSupported;
};

let relaxedWanted = true;

/**
 * Whether the library's SIMD kernels built from now on may use relaxed SIMD
 * (default true; `selectBackend({ relaxedSimd })` sets it). Fused and unfused
 * multiply-adds round differently, so `false` gives the same bits on every
 * engine.
 *
 * @example
 * ```ts
 * import { preferRelaxedSimd, relaxedSimdInUse } from 'tsnn/backend';
 *
 * preferRelaxedSimd(false);
 * console.log(relaxedSimdInUse()); // false
 * preferRelaxedSimd(true); // the default
 * ```
 */
export const preferRelaxedSimd = (wanted: boolean): void => {
  relaxedWanted = wanted;
};

/**
 * Whether the library's SIMD kernels use relaxed SIMD's fused multiply-add:
 * wanted ({@link preferRelaxedSimd}) and supported ({@link relaxedSimdSupported}).
 *
 * @example
 * ```ts
 * import { relaxedSimdInUse, relaxedSimdSupported } from 'tsnn/backend';
 *
 * console.log(relaxedSimdInUse() === relaxedSimdSupported()); // true by default
 * ```
 */
export const relaxedSimdInUse = (): boolean => relaxedWanted && relaxedSimdSupported();

/** Whether this engine runs fixed-width SIMD: the one reason a kernel may take its JS loop instead. */
const simdSupported = (): boolean =>
  // A function that makes one v128 constant and drops it.
  WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 10, 23, 1, 21, 0, 253, 12, ...Array(16).fill(0), 26, 11]));

/**
 * Instantiate an assembled module once per wasm backend memory (and
 * relaxed-SIMD choice, passed to `build`), importing that memory (declared
 * shared where it is). Returns null where the backend
 * is not wasm or the engine has no SIMD: callers fall back to JS. Any other
 * failure to build or link is a bug, and throws.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { assembleModule, instancePerMemory } from 'tsnn/backend';
 *
 * const kernelsFor = instancePerMemory<{ nop(): void }>((memory) => assembleModule([{ name: 'nop', params: [], locals: [], body: [] }], memory));
 * console.log(kernelsFor(tf.backend())); // null on cpu: callers fall back to JS
 * ```
 */
export const instancePerMemory = <T>(build: (target: KernelTarget) => Uint8Array): (backend: unknown) => T | null => {
  // One instance per memory and relaxed-SIMD choice: the choice may change between calls.
  const byMemory = new WeakMap<WebAssembly.Memory, Map<boolean, T | null>>();
  return (backend) => {
    const memory = wasmBackendMemory(backend);
    if (!memory) return null;
    const relaxedSimd = relaxedSimdInUse();
    const built = byMemory.get(memory) ?? new Map<boolean, T | null>();
    byMemory.set(memory, built);
    if (!built.has(relaxedSimd)) {
      if (!simdSupported()) built.set(relaxedSimd, null);
      else {
        const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
        try {
          built.set(
            relaxedSimd,
            new WebAssembly.Instance(new WebAssembly.Module(build({ shared, relaxedSimd }) as BufferSource), { env: { memory } }).exports as T,
          );
        } catch (e) {
          throw new Error(`tsnn: a SIMD kernel failed to link against the wasm backend's ${shared ? 'shared ' : ''}memory: ${(e as Error).message}`);
        }
      }
    }
    return built.get(relaxedSimd)!;
  };
};
