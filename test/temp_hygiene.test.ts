/**
 * The suite's temporary-file guard (`test/clean_tmp.ts`, which `npm test`
 * runs each runtime's suite under) fails a run that leaves files behind.
 */
import './helpers.ts';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const guard = new URL('./clean_tmp.ts', import.meta.url).pathname;
const run = (script: string) => spawnSync(process.execPath, ['--import', 'tsx', guard, process.execPath, '-e', script], { encoding: 'utf8' });

describe('temporary-file guard', () => {
  test('a command that cleans up passes', () => {
    const r = run(`const fs = require('node:fs'), os = require('node:os'), path = require('node:path');
      const d = fs.mkdtempSync(path.join(os.tmpdir(), 'x-')); fs.writeFileSync(path.join(d, 'f'), 'y'); fs.rmSync(d, { recursive: true });`);
    assert.equal(r.status, 0, r.stderr);
  });

  test('a command that leaves a folder in the temporary directory fails, naming it', () => {
    const r = run(`const fs = require('node:fs'), os = require('node:os'), path = require('node:path');
      fs.mkdtempSync(path.join(os.tmpdir(), 'tsnn-leftover-'));`);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /left 1 entries in its temporary folder: tsnn-leftover-/);
  });

  test('a failing command keeps its exit status', () => {
    assert.equal(run('process.exit(3)').status, 3);
  });
});
