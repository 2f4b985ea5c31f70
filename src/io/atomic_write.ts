/**
 * Atomic file writes: a temporary file in the target's folder, flushed, then
 * renamed over the target, so a reader sees the old file or the new one,
 * never a mix, and a crash mid-save leaves the old one intact.
 *
 * Temporary names are `.<target>.<host>.<pid>.<uuid>.tmp`: the random UUID
 * keeps concurrent writers apart (threads of one process share a pid and a
 * clock), and host (a CRC-32 of the host name) and pid say who wrote it. Any
 * failure removes the writer's own temporary file. A writer killed mid-save
 * cannot, so each save first removes the stale temporaries of its target:
 * those whose writer is known dead (same host, its pid no longer runs), and
 * those untouched for an hour (another host, or a pid since reused). A live
 * writer's file is neither: it is being written right now. Only files with
 * exactly this pattern for exactly this target are touched.
 *
 * @module
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as nodePath from 'node:path';
import { randomUUID } from 'node:crypto';
import { crc32 } from './crc32.ts';

/** Temporaries untouched this long are stale whoever wrote them. */
export const STALE_AFTER_MS = 60 * 60 * 1000;

/** The file operations a write needs; tests substitute failing ones. */
export type FileOps = Pick<
  typeof fs,
  'openSync' | 'writeSync' | 'fsyncSync' | 'closeSync' | 'renameSync' | 'rmSync' | 'mkdirSync' | 'readdirSync' | 'statSync'
>;

/**
 * This host, as temporary names spell it: 8 hex digits of a CRC-32 of the
 * host name (random when the name cannot be read, e.g. under Deno without
 * `--allow-sys`: then no writer is judged by its pid).
 *
 * @example
 * ```ts
 * import { hostTag } from './atomic_write.ts';
 * console.log(/^[0-9a-f]{8}$/.test(hostTag)); // true (e.g. 1a2b3c4d)
 * ```
 */
export const hostTag: string = (() => {
  try {
    return crc32(new TextEncoder().encode(os.hostname())).toString(16).padStart(8, '0');
  } catch {
    return randomUUID().slice(0, 8);
  }
})();

const TEMP = /^([0-9a-f]{8})\.(\d+)\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp$/;
// Written by versions before the host and UUID were added: judged by age alone.
const LEGACY = /^\d+\.\d+\.tmp$/;

/** Whether process `pid` runs on this host; unsure (no permission, say) counts as running. */
const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code !== 'ESRCH';
  }
};

/**
 * The temporary files in `dir` that a writer to `base` left behind and that are
 * stale, by the rules in the module doc.
 *
 * @example
 * ```ts
 * import * as fs from 'node:fs';
 * import { hostTag, staleTemps } from './atomic_write.ts';
 *
 * const dir = Deno.makeTempDirSync();
 * // What a writer killed mid-save leaves: it names this host and a pid that is not running.
 * const left = `.model.safetensors.${hostTag}.999999999.${crypto.randomUUID()}.tmp`;
 * Deno.writeFileSync(`${dir}/${left}`, new Uint8Array(1));
 * console.log(staleTemps(fs, dir, 'model.safetensors').length); // 1
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const staleTemps = (ops: FileOps, dir: string, base: string, now = Date.now()): string[] => {
  const prefix = `.${base}.`;
  return (ops.readdirSync(dir) as string[]).filter((name) => {
    if (!name.startsWith(prefix)) return false;
    const rest = name.slice(prefix.length), m = TEMP.exec(rest);
    if (!m && !LEGACY.test(rest)) return false;
    if (m && m[1] === hostTag && Number(m[2]) !== process.pid && !running(Number(m[2]))) return true;
    try {
      return now - ops.statSync(nodePath.join(dir, name)).mtimeMs > STALE_AFTER_MS;
    } catch {
      return false; // gone already
    }
  });
};

/**
 * `writeFileAtomic` over the given file operations.
 *
 * @example
 * ```ts
 * import * as fs from 'node:fs';
 * import { atomicWriter } from './atomic_write.ts';
 *
 * const dir = Deno.makeTempDirSync();
 * atomicWriter(fs)(`${dir}/out.bin`, new Uint8Array([1, 2, 3])); // a fake `fs` here tests the failure paths
 * console.log(Deno.readFileSync(`${dir}/out.bin`)); // Uint8Array(3) [ 1, 2, 3 ]
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const atomicWriter = (ops: FileOps) => (file: string, bytes: Uint8Array): void => {
  const dir = nodePath.dirname(nodePath.resolve(file)), base = nodePath.basename(file);
  ops.mkdirSync(dir, { recursive: true });
  try {
    for (const name of staleTemps(ops, dir, base)) ops.rmSync(nodePath.join(dir, name), { force: true });
  } catch { /* best effort: a folder we cannot list or clean must not stop the save */ }
  const tmp = nodePath.join(dir, `.${base}.${hostTag}.${process.pid}.${randomUUID()}.tmp`);
  // 'wx': the name is new, so no other writer's file is ever opened or removed here.
  const fd = ops.openSync(tmp, 'wx');
  let open = true;
  try {
    for (let done = 0, n; done < bytes.length; done += n) {
      n = ops.writeSync(fd, bytes, done, bytes.length - done);
      if (!(n > 0)) throw new Error(`writeFileAtomic: writing '${tmp}' made no progress`);
    }
    ops.fsyncSync(fd);
    open = false; // a failed close releases the descriptor all the same
    ops.closeSync(fd);
    ops.renameSync(tmp, file);
  } catch (e) {
    if (open) {
      try {
        ops.closeSync(fd);
      } catch { /* already failing */ }
    }
    try {
      ops.rmSync(tmp, { force: true });
    } catch { /* already failing */ }
    throw e;
  }
  try {
    // Persist the rename itself; not every platform lets a folder be fsynced.
    const dfd = ops.openSync(dir, 'r');
    try {
      ops.fsyncSync(dfd);
    } finally {
      ops.closeSync(dfd);
    }
  } catch { /* best effort */ }
};

/**
 * Write `bytes` to `file` atomically: a temporary file in the same folder,
 * flushed to disk, then renamed over the target. A crash mid-save leaves the
 * previous file intact; a failed save leaves no temporary file; stale ones of
 * killed writers are removed by the next save to the same target.
 *
 * @example
 * ```ts
 * import { writeFileAtomic } from './atomic_write.ts';
 *
 * const dir = Deno.makeTempDirSync();
 * writeFileAtomic(`${dir}/model.safetensors`, new Uint8Array(16));
 * console.log(Deno.readDirSync(dir).toArray().map((e) => e.name)); // [ "model.safetensors" ] (no temporary file left)
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export const writeFileAtomic: (file: string, bytes: Uint8Array) => void = atomicWriter(fs);
