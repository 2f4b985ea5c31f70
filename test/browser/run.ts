/**
 * The browser test: bundle test/browser/app.ts for the browser with esbuild,
 * resolving `tsnn` to the built package (dist/, through package.json's
 * exports and sideEffects, as a user's bundler would), serve it with the wasm
 * backend's binaries, load it in headless Chromium, and check the losses the
 * page posts back. Any `node:` import in the main entry fails the bundle.
 *
 * Chromium is $CHROMIUM, or the first of chromium, chromium-browser and google-chrome on
 * the PATH (`npm run setup:test` installs Debian's chromium).
 * Without one this exits 1, saying so; NN_SKIP_BROWSER=1 skips it instead, with
 * that reason printed.
 *
 *   node --import tsx test/browser/run.ts
 */
import { build } from 'esbuild';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const chromium = process.env.CHROMIUM ?? ['chromium', 'chromium-browser', 'google-chrome'].find((c) => spawnSync('which', [c]).status === 0);
if (!chromium) {
  const why = "no Chromium found (install Debian's chromium, as npm run setup:test does, or set CHROMIUM)";
  if (process.env.NN_SKIP_BROWSER === '1') {
    console.log(`browser test skipped: ${why}`);
    process.exit(0);
  }
  console.error(`browser test: ${why}; NN_SKIP_BROWSER=1 skips it`);
  process.exit(1);
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnn-browser-'));
let stopBrowser = (): Promise<void> => Promise.resolve();
const cleanUp = async () => {
  await stopBrowser();
  fs.rmSync(work, { recursive: true, force: true });
};
try {
  const built = spawnSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) throw new Error('npm run build failed');
  const bundle = await build({
    entryPoints: [fileURLToPath(new URL('./app.ts', import.meta.url))],
    absWorkingDir: root, // metafile paths (dist/...) are relative to it
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    outfile: path.join(work, 'app.js'),
    nodePaths: [path.join(root, 'node_modules')],
    logLevel: 'error',
    metafile: true,
  });
  const inputs = Object.keys(bundle.metafile.inputs);
  const ours = inputs.filter((f) => f.startsWith('dist/'));
  const nodeImports = Object.entries(bundle.metafile.inputs).flatMap(([f, i]) =>
    i.imports.filter((m) => m.path.startsWith('node:')).map((m) => `${f} imports ${m.path}`)
  );
  if (nodeImports.length) throw new Error(`the main entry reaches Node modules: ${nodeImports.join('; ')}`);
  if (!ours.some((f) => f.endsWith('gradients.js'))) throw new Error('the bundle lost src/tfjs/gradients.js (sideEffects?)');
  console.log(`bundle: ${(fs.statSync(path.join(work, 'app.js')).size / 1e6).toFixed(1)} MB, ${ours.length} of tsnn's modules, no node: import`);
  fs.writeFileSync(path.join(work, 'index.html'), '<!doctype html><meta charset="utf-8"><script type="module" src="app.js"></script>\n');
  const wasmDir = path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');

  const result = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const server = http.createServer((req, res) => {
      if (req.method === 'POST' && req.url === '/result') {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          res.end('ok');
          resolve(JSON.parse(body));
        });
        return;
      }
      const url = req.url === '/' ? '/index.html' : req.url!;
      const file = url.startsWith('/wasm/') ? path.join(wasmDir, path.basename(url)) : path.join(work, path.basename(url));
      if (!fs.existsSync(file)) return void res.writeHead(404).end();
      const type = file.endsWith('.wasm') ? 'application/wasm' : file.endsWith('.js') ? 'text/javascript' : 'text/html';
      res.writeHead(200, { 'content-type': type }).end(fs.readFileSync(file));
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      const browser = spawn(chromium, [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--no-first-run',
        `--user-data-dir=${path.join(work, 'profile')}`,
        `http://127.0.0.1:${port}/`,
      ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      stopBrowser = () =>
        new Promise<void>((done) => {
          if (browser.exitCode !== null || browser.signalCode !== null) return done();
          browser.once('exit', () => done());
          process.kill(-browser.pid!, 'SIGKILL'); // the whole group: Chromium's renderer and GPU processes too
        });
      let stderr = '';
      browser.stderr.on('data', (c) => (stderr += c));
      const timer = setTimeout(() => reject(new Error(`no result from Chromium in 180 s; its stderr:\n${stderr.slice(-2000)}`)), 180_000);
      browser.on('exit', (code) => reject(new Error(`Chromium exited (${code}) before the page reported:\n${stderr.slice(-2000)}`)));
      const finish = () => {
        clearTimeout(timer);
        browser.removeAllListeners('exit');
        server.close();
      };
      server.on('request', (req) => req.url === '/result' && req.on('end', finish));
    });
  });

  console.log(`page: ${JSON.stringify(result)}`);
  if (result.error) throw new Error(`the page failed: ${result.error}`);
  const losses = result.losses as number[];
  const problems = [
    result.backend !== 'wasm' && `backend ${result.backend}, expected wasm`,
    result.steps !== 12 && `${result.steps} steps, expected 12 (3 epochs of 4 batches)`,
    !(losses.length === 3 && losses.every(Number.isFinite)) && `losses ${losses}`,
    !(losses[2] < losses[0]) && `the loss did not fall: ${losses}`,
    result.leaked !== 0 && `${result.leaked} tensors leaked`,
  ].filter(Boolean);
  if (problems.length) throw new Error(`browser test failed: ${problems.join('; ')}`);
  console.log('browser test passed');
} finally {
  await cleanUp();
}
