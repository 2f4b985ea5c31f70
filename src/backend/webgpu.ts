/**
 * The WebGPU engine: find an adapter, judge it, and run tfjs-backend-webgpu
 * on it. The adapter comes from `navigator.gpu` where the runtime has it
 * (Deno, browsers), else on Node from the `webgpu` package (Dawn): first its
 * default backends (Vulkan, Metal, D3D12), then OpenGL in compatibility mode,
 * which Mesa offers on a machine with no display.
 *
 * @module
 */
import * as tf from '../tfjs/tf.ts';
import { firstLine, importOptional } from '../optional_import.ts';

/** What selection learnt about a WebGPU adapter. */
export interface GpuAdapterReport {
  /** The adapter as it describes itself, e.g. `"llvmpipe (LLVM 15.0.6, 256 bits)"`. */
  readonly description: string;
  /**
   * True for a software adapter: one the runtime calls a fallback adapter, or
   * a known CPU rasteriser (llvmpipe, lavapipe, softpipe, SwiftShader, WARP).
   * It computes on the CPU, slower than the wasm backend.
   */
  readonly software: boolean;
  /** Where `navigator.gpu` came from: the runtime, or the `webgpu` package and its settings. */
  readonly via: string;
}

interface AdapterInfo {
  readonly vendor?: string;
  readonly architecture?: string;
  readonly device?: string;
  readonly description?: string;
  readonly isFallbackAdapter?: boolean;
}
interface Adapter {
  readonly info?: AdapterInfo;
  readonly isFallbackAdapter?: boolean;
  readonly features: ReadonlySet<string>;
  readonly limits: Record<string, number>;
  requestDevice(descriptor: unknown): Promise<unknown>;
}
interface Gpu {
  requestAdapter(options?: unknown): Promise<Adapter | null>;
}
interface DawnModule {
  create(flags: string[]): Gpu;
  globals: Record<string, unknown>;
}

/** An adapter found, with its report; or why none was. */
export type FoundGpu = { readonly adapter: Adapter; readonly report: GpuAdapterReport } | { readonly why: string };

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader|basic render driver|\bwarp\b/i;

/**
 * Judge an adapter from its info: a fallback adapter, or a CPU rasteriser by
 * name (Dawn on OpenGL reports llvmpipe as no fallback).
 *
 * @example
 * ```ts
 * import { describeAdapter } from './webgpu.ts';
 *
 * console.log(describeAdapter({ description: 'llvmpipe (LLVM 15.0.6, 256 bits)', isFallbackAdapter: false }, 'Deno').software); // true
 * console.log(describeAdapter({ vendor: 'nvidia', description: 'NVIDIA H200' }, 'Deno').software); // false
 * ```
 */
export const describeAdapter = (info: AdapterInfo, via: string, fallback = false): GpuAdapterReport => {
  // Deno's vendor and device are PCI ids; Dawn on OpenGL names the GL version in the description and the renderer in the device.
  const names = [info.description, info.device, info.architecture, info.vendor].filter((s): s is string => !!s && !/^\d+$/.test(s));
  return {
    description: names.slice(0, 2).join(', ') || 'an adapter with no description',
    software: fallback || info.isFallbackAdapter === true || names.some((s) => SOFTWARE.test(s)),
    via,
  };
};

const navigatorGpu = (): Gpu | undefined => (globalThis as { navigator?: { gpu?: Gpu } }).navigator?.gpu;

/** The `webgpu` package's adapter on Node: its default backends first, then OpenGL (compatibility mode, no display). */
const dawnAdapter = async (): Promise<{ gpu: Gpu; adapter: Adapter; via: string } | string> => {
  const loaded = await importOptional<DawnModule>('webgpu');
  if (!('module' in loaded)) {
    return loaded.missing ? "no WebGPU in this runtime (on Node, install the 'webgpu' package)" : `the webgpu package is broken: ${loaded.message}`;
  }
  const dawn = loaded.module;
  // tfjs-backend-webgpu reads the GPUBufferUsage and GPUMapMode constants as globals.
  Object.assign(globalThis, dawn.globals);
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env;
  const attempts: [string[], unknown, string][] = [
    [[], { powerPreference: 'high-performance' }, 'the webgpu package (Dawn)'],
    [['backend=opengl'], { featureLevel: 'compatibility' }, 'the webgpu package (Dawn on OpenGL, compatibility mode)'],
  ];
  for (const [flags, options, via] of attempts) {
    // Mesa's EGL needs this to open a GPU, or llvmpipe, with no display server.
    if (flags.includes('backend=opengl') && env && env.EGL_PLATFORM === undefined) env.EGL_PLATFORM = 'surfaceless';
    const gpu = dawn.create(flags);
    const adapter = await gpu.requestAdapter(options).catch(() => null);
    if (adapter) return { gpu, adapter, via };
  }
  return 'the webgpu package found no adapter (Vulkan, Metal, D3D12 or OpenGL)';
};

/**
 * Find a WebGPU adapter (once per process; later calls give the same answer):
 * `navigator.gpu` where the runtime has one, else (Node) the `webgpu`
 * package. On Node it defines `navigator.gpu`, which tfjs-backend-webgpu looks for.
 *
 * @example
 * ```ts
 * import { findGpu } from './webgpu.ts';
 *
 * const found = await findGpu();
 * console.log('report' in found ? found.report.description : found.why); // e.g. llvmpipe (LLVM 15.0.6, 256 bits)
 * ```
 */
export const findGpu = (): Promise<FoundGpu> => (search ??= searchGpu());

// One search per process: asking again costs time and, on Dawn, stderr noise; and on Node the
// second search would take the navigator.gpu that the first defined for the runtime's own.
let search: Promise<FoundGpu> | undefined;

const searchGpu = async (): Promise<FoundGpu> => {
  const builtIn = navigatorGpu();
  if (builtIn) {
    const adapter = await builtIn.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
    if (!adapter) return { why: 'WebGPU found no adapter' };
    return { adapter, report: describeAdapter(adapter.info ?? {}, 'the runtime', adapter.isFallbackAdapter === true) };
  }
  const dawn = await dawnAdapter();
  if (typeof dawn === 'string') return { why: dawn };
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav) Object.defineProperty(nav, 'gpu', { value: dawn.gpu, configurable: true });
  else Object.defineProperty(globalThis, 'navigator', { value: { gpu: dawn.gpu }, configurable: true, writable: true });
  return { adapter: dawn.adapter, report: describeAdapter(dawn.adapter.info ?? {}, dawn.via) };
};

/** The device tfjs-backend-webgpu asks for (its own descriptor, from its `base.ts`), on the adapter found. */
const deviceFor = (adapter: Adapter): Promise<unknown> => {
  const l = adapter.limits;
  return adapter.requestDevice({
    requiredFeatures: ['timestamp-query'].filter((f) => adapter.features.has(f)),
    requiredLimits: {
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      // More inputs per shader: the default (8) is what makes tfjs's AddN fail (see webgpu_kernels.ts).
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
};

/**
 * Make `webgpu` the tfjs backend, on the adapter found: tfjs-backend-webgpu
 * (an optional peer dependency) is imported, and its backend registered on
 * that adapter's device, so that the adapter judged is the one trained on.
 * Null when it worked, else why not.
 *
 * @example
 * ```ts
 * import { findGpu, useGpu } from './webgpu.ts';
 *
 * const found = await findGpu();
 * if ('adapter' in found) console.log(await useGpu(found.adapter)); // null
 * ```
 */
export const useGpu = async (adapter: Adapter): Promise<string | null> => {
  const pkg = '@tensorflow/tfjs-backend-webgpu';
  const loaded = await importOptional<{ WebGPUBackend: new (device: unknown, info?: unknown) => tf.KernelBackend }>(pkg);
  if (!('module' in loaded)) {
    // A browser bundle that imported the package itself has its backend registered: use that.
    if (tf.findBackendFactory('webgpu')) return (await tf.setBackend('webgpu')) ? null : 'the webgpu backend failed to initialise';
    return loaded.missing ? `${pkg} is not installed` : `${pkg} failed to load: ${loaded.message}`;
  }
  const { WebGPUBackend } = loaded.module;
  try {
    // (Not tf.findBackend: it would start whichever factory is registered, tfjs's own included.)
    if (current !== adapter) {
      if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
      const device = await deviceFor(adapter);
      tf.registerBackend('webgpu', () => new WebGPUBackend(device, adapter.info));
      current = adapter;
    }
    return (await tf.setBackend('webgpu')) ? null : 'the webgpu backend failed to initialise';
  } catch (e) {
    return `the webgpu backend failed: ${firstLine(e)}`;
  }
};

/** The adapter the registered webgpu backend runs on. */
let current: Adapter | undefined;
