/**
 * Runs a command (the test suite) with its own empty temporary folder, and
 * fails if anything is left in it afterwards: tests must remove every file
 * and folder they make (tsx's compile cache excepted). Usage: `node --import tsx test/clean_tmp.ts <command> [args...]`.
 * The exit status is the command's, or 1 when it passed but left files behind.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: clean_tmp.ts <command> [args...]');
  process.exit(2);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnn-suite-'));
const env = { ...process.env, TMPDIR: dir, TMP: dir, TEMP: dir };
const r = spawnSync(command, args, { stdio: 'inherit', env, shell: false });
// tsx keeps its compile cache in the temporary folder (tsx-<uid>): the tool's, not a test's.
const left = fs.readdirSync(dir).filter((name) => !/^tsx-\d+$/.test(name));
fs.rmSync(dir, { recursive: true, force: true });
if (r.error) {
  console.error(`clean_tmp: cannot run ${command}: ${r.error.message}`);
  process.exit(2);
}
if (left.length) {
  console.error(
    `clean_tmp: '${[command, ...args].join(' ')}' left ${left.length} entries in its temporary folder: ${left.slice(0, 20).join(', ')}${
      left.length > 20 ? ', ...' : ''
    }`,
  );
  process.exit(r.status === 0 ? 1 : r.status ?? 1);
}
process.exit(r.status ?? 1);
