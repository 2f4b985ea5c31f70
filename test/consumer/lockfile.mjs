// Writes a consumer project's package.json and package-lock.json so that
// `npm ci --offline` can install the packed tarball from npm's cache alone.
// npm cannot resolve a tarball's dependencies offline (that needs the
// registry's package documents, which `npm ci` never caches), but a lockfile
// needs no resolution: this one is the part of tsnn's own lockfile that the
// tarball's dependencies (and the consumer's tools) reach, so its every
// tarball is one `npm ci` in tsnn already put in the cache.
//
// Usage: node lockfile.mjs <tsnn root> <consumer dir> <tarball file name> <extra package>...
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

const [root, dir, tarball, ...extras] = process.argv.slice(2);
const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
const packages = lock.packages;

// Node's lookup: a dependency of the package at `from` is the nearest
// node_modules/<name> at or above it.
const locate = (from, name) => {
  for (let at = from;; at = at.slice(0, Math.max(0, at.lastIndexOf('/node_modules/')))) {
    const candidate = `${at ? `${at}/` : ''}node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (!at) return undefined;
  }
};

const kept = new Map();
const visit = (from, deps, optional = {}) => {
  for (const name of Object.keys({ ...deps, ...optional })) {
    const at = locate(from, name);
    if (at === undefined) {
      if (name in optional) continue;
      throw new Error(`${from || 'tsnn'} needs ${name}, which tsnn's package-lock.json does not hold`);
    }
    if (kept.has(at)) continue;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = packages[at];
    kept.set(at, entry);
    visit(at, entry.dependencies, entry.optionalDependencies);
  }
};
visit('', manifest.dependencies);
const extraVersions = Object.fromEntries(extras.map((name) => [name, packages[`node_modules/${name}`]?.version]));
for (const [name, version] of Object.entries(extraVersions)) if (!version) throw new Error(`${name} is not in tsnn's package-lock.json`);
visit('', extraVersions);

const file = `file:${tarball}`;
const integrity = `sha512-${createHash('sha512').update(readFileSync(path.join(dir, tarball))).digest('base64')}`;
const dependencies = { tsnn: file, ...extraVersions };
const consumer = { name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies };
const { name: _name, version, dependencies: tsnnDeps, peerDependencies, peerDependenciesMeta, engines, license } = manifest;
const tsnnEntry = { version, resolved: file, integrity, license, dependencies: tsnnDeps, engines, peerDependencies, peerDependenciesMeta };
const consumerLock = {
  name: 'consumer',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: { '': { name: 'consumer', version: '1.0.0', dependencies }, 'node_modules/tsnn': tsnnEntry, ...Object.fromEntries([...kept].sort()) },
};
writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(consumer, null, 2)}\n`);
writeFileSync(path.join(dir, 'package-lock.json'), `${JSON.stringify(consumerLock, null, 2)}\n`);
console.log(`lockfile: tsnn and ${kept.size} packages from tsnn's package-lock.json`);
