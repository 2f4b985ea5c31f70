/**
 * A checksum over a whole safetensors file, kept inside the file: the
 * metadata field `"checksum":"crc32:XXXXXXXX"` holds the CRC-32 of every byte
 * of the file (length prefix, header, padding, data) computed with its own 8
 * hex digits written as `0`s. So any changed byte, anywhere, shows, and the
 * file stays plain safetensors that any reader opens.
 *
 * The field is found in the raw header bytes, not in the parsed JSON: the
 * digits must be zeroed exactly where they lie. JSON escapes every `"` inside
 * a string, so `"checksum":"crc32:` can only occur as a real key and value;
 * a file with two such fields or none is refused.
 *
 * @module
 */
import { crc32 } from './crc32.ts';

/** The metadata field that holds the checksum. */
export const CHECKSUM_FIELD = 'checksum';
const PREFIX = 'crc32:';
/** The field's value while the checksum is computed: the digits as `0`s. */
export const UNSTAMPED = `${PREFIX}00000000`;
const NEEDLE = new TextEncoder().encode(`"${CHECKSUM_FIELD}":"${PREFIX}`);
const ZEROS = new TextEncoder().encode('00000000');
const HEX = /^[0-9a-f]{8}$/;

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/**
 * Where the checksum's 8 hex digits are in `head` (the file's first
 * `8 + N` bytes), or why they cannot be found.
 *
 * @example
 * ```ts
 * import { locateChecksum } from './checksum.ts';
 * console.log(locateChecksum(new Uint8Array(8))); // no checksum field
 * ```
 */
export const locateChecksum = (head: Uint8Array): number | string => {
  const found: number[] = [];
  const last = head.length - NEEDLE.length - ZEROS.length - 1;
  outer: for (let i = 8; i <= last; i++) {
    if (head[i] !== 0x22) continue;
    for (let k = 1; k < NEEDLE.length; k++) if (head[i + k] !== NEEDLE[k]) continue outer;
    found.push(i + NEEDLE.length);
    if (found.length > 1) return 'more than one checksum field';
  }
  if (!found.length) return 'no checksum field';
  const at = found[0];
  const digits = new TextDecoder().decode(head.subarray(at, at + 8));
  if (!HEX.test(digits) || head[at + 8] !== 0x22) return `malformed checksum field (expected ${PREFIX} and 8 lowercase hex digits)`;
  return at;
};

/**
 * The checksum field's value as stored, with its digits at `at`.
 *
 * @example
 * ```ts
 * import { encodeSafetensors } from 'tsnn';
 * import { checksumAt, locateChecksum, UNSTAMPED } from './checksum.ts';
 * const bytes = encodeSafetensors([], { checksum: UNSTAMPED });
 * console.log(checksumAt(bytes, locateChecksum(bytes) as number)); // crc32:00000000
 * ```
 */
export const checksumAt = (head: Uint8Array, at: number): string => PREFIX + new TextDecoder().decode(head.subarray(at, at + 8));

/**
 * The CRC-32 of a file whose first bytes are `head`, with the checksum's
 * digits at `at` read as `0`s, continued over the data `chunks` in order.
 *
 * @example
 * ```ts
 * import { encodeSafetensors } from 'tsnn';
 * import { checksumOf, locateChecksum, UNSTAMPED } from './checksum.ts';
 * const bytes = encodeSafetensors([], { checksum: UNSTAMPED });
 * console.log(checksumOf(bytes, locateChecksum(bytes) as number)); // crc32:1fd2e5db
 * ```
 */
export const checksumOf = (head: Uint8Array, at: number, chunks: Iterable<Uint8Array> = []): string => {
  let c = crc32(head.subarray(at + 8), crc32(ZEROS, crc32(head.subarray(0, at))));
  for (const chunk of chunks) c = crc32(chunk, c);
  return PREFIX + hex8(c);
};

/**
 * Write the checksum into safetensors `bytes` whose metadata holds
 * `checksum: UNSTAMPED`, in place; returns `bytes`.
 *
 * @example
 * ```ts
 * import { encodeSafetensors } from 'tsnn';
 * import { stampChecksum, UNSTAMPED } from './checksum.ts';
 * import { checksumAt, checksumOf, locateChecksum } from './checksum.ts';
 *
 * const bytes = stampChecksum(encodeSafetensors([], { checksum: UNSTAMPED }));
 * const at = locateChecksum(bytes) as number;
 * console.log(checksumAt(bytes, at) === checksumOf(bytes, at)); // true
 * ```
 */
export const stampChecksum = (bytes: Uint8Array): Uint8Array => {
  const dataStart = 8 + Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  const head = bytes.subarray(0, dataStart);
  const at = locateChecksum(head);
  if (typeof at === 'string') throw new Error(`stampChecksum: ${at}`);
  const sum = checksumOf(head, at, [bytes.subarray(dataStart)]);
  bytes.set(new TextEncoder().encode(sum.slice(PREFIX.length)), at);
  return bytes;
};
