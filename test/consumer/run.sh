#!/usr/bin/env bash
# Consumer tests: pack tsnn, install the tarball into a fresh project (from the
# tarball, and npm's cache where it can), and use it as a user would: plain node,
# require, a consumer's tsc (node16 and bundler, without skipLibCheck), and Deno.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tsnn-consumer-XXXXXX")
trap 'rm -rf "$work"' EXIT
version() { node -p "require('$root/node_modules/$1/package.json').version"; }

step() { printf '\n== %s\n' "$*"; }

step "npm pack"
tarball=$(cd "$root" && npm pack --silent --pack-destination "$work" | tail -1)
tar -tzf "$work/$tarball" | grep -c '\.js$' | sed 's/^/JS files in the tarball: /'
if tar -tzf "$work/$tarball" | grep -E '\.ts$' | grep -v '\.d\.ts$'; then echo 'the tarball holds TypeScript sources' >&2; exit 1; fi

step "install into a fresh project (prefer-offline: npm's cache, then the registry)"
cd "$work"
printf '{ "name": "consumer", "private": true, "type": "module" }\n' > package.json
npm install --prefer-offline --no-audit --no-fund --loglevel=error "./$tarball" "typescript@$(version typescript)" "@types/node@$(version @types/node)"
cp "$here"/app.mjs "$here"/app.cjs "$here"/app.ts "$here"/misspelt.ts .
du -sm node_modules | sed 's/^\([0-9]*\).*/installed size: \1 MB/'

step "node app.mjs (no TypeScript loader)"
node app.mjs

step "require('tsnn')"
node app.cjs

# Errors are counted by where they are: in tsnn's declarations or the program, or inside
# @tensorflow's own (the tfjs umbrella's tfjs-layers declarations do not pass a strict
# TypeScript 5.9 without skipLibCheck; depending on tfjs-core alone would remove them).
for resolution in node16 bundler; do
  step "tsc --noEmit, moduleResolution $resolution, no skipLibCheck"
  module=$([ "$resolution" = node16 ] && echo node16 || echo esnext)
  for file in app.ts misspelt.ts; do
    cat > tsconfig.json <<JSON
{ "compilerOptions": { "strict": true, "noEmit": true, "target": "ES2022", "module": "$module", "moduleResolution": "$resolution", "skipLibCheck": false }, "files": ["$file"] }
JSON
    npx tsc -p tsconfig.json > tsc.out 2>&1 || true
    ours=$(grep -E '^[^ ]*\([0-9]+,[0-9]+\): error' tsc.out | grep -v '^node_modules/@tensorflow/' || true)
    theirs=$(grep -cE '^node_modules/@tensorflow/[^ ]*\([0-9]+,[0-9]+\): error' tsc.out || true)
    if [ "$file" = app.ts ]; then
      if [ -n "$ours" ]; then echo "$ours" >&2; exit 1; fi
      echo "app.ts: 0 errors in tsnn's declarations or the program; $theirs inside node_modules/@tensorflow"
    else
      echo "$ours" | grep -q "misspelt.ts.*batchSzie" || { echo 'a misspelt option type-checked' >&2; cat tsc.out >&2; exit 1; }
      echo "misspelt.ts: $(echo "$ours" | grep -o "'batchSzie' does not exist in type" | head -1) (the expected error)"
    fi
  done
done

step "deno run app.mjs (the built package, from node_modules)"
deno="$root/node_modules/.bin/deno"
"$deno" run -A app.mjs
printf '\nconsumer tests passed\n'
