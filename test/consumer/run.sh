#!/usr/bin/env bash
# Consumer tests: pack tsnn, install the tarball into a fresh project offline
# (from the tarball and npm's cache), and use it as a user would: plain node,
# require, a consumer's tsc (node16 and bundler, without skipLibCheck), and Deno.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tsnn-consumer-XXXXXX")
trap 'rm -rf "$work"' EXIT

step() { printf '\n== %s\n' "$*"; }

step "npm pack"
tarball=$(cd "$root" && npm pack --silent --pack-destination "$work" | tail -1)
tar -tzf "$work/$tarball" | grep -c '\.js$' | sed 's/^/JS files in the tarball: /'
if tar -tzf "$work/$tarball" | grep -E '\.ts$' | grep -v '\.d\.ts$'; then echo 'the tarball holds TypeScript sources' >&2; exit 1; fi

step "install into a fresh project, offline: npm ci from a lockfile cut from tsnn's, and npm's cache"
cd "$work"
node "$here/lockfile.mjs" "$root" "$work" "$tarball" @tensorflow/tfjs-core typescript @types/node
npm ci --offline --no-audit --no-fund --loglevel=error
cp "$here"/app.mjs "$here"/app.cjs "$here"/app.ts "$here"/misspelt.ts .
packages=$(npm ls --all --parseable 2>/dev/null | tail -n +2 | sort -u | wc -l)
echo "installed: $packages packages, $(du -sm node_modules | cut -f1) MB, of which typescript (for the tsc checks) $(du -sm node_modules/typescript | cut -f1) MB"

step "node app.mjs (no TypeScript loader)"
node app.mjs

step "require('tsnn')"
node app.cjs

for resolution in node16 bundler; do
  step "tsc --noEmit, moduleResolution $resolution, no skipLibCheck"
  module=$([ "$resolution" = node16 ] && echo node16 || echo esnext)
  for file in app.ts misspelt.ts; do
    cat > tsconfig.json <<JSON
{ "compilerOptions": { "strict": true, "noEmit": true, "target": "ES2022", "module": "$module", "moduleResolution": "$resolution", "skipLibCheck": false }, "files": ["$file"] }
JSON
    status=0
    npx tsc -p tsconfig.json > tsc.out 2>&1 || status=$?
    errors=$(grep -E '^[^ ]*\([0-9]+,[0-9]+\): error' tsc.out || true)
    if [ "$file" = app.ts ]; then
      if [ "$status" != 0 ]; then cat tsc.out >&2; exit 1; fi
      echo "app.ts: 0 errors (tsnn's declarations, its dependencies' and the program)"
    else
      echo "$errors" | grep -q "misspelt.ts.*batchSzie" || { echo 'a misspelt option type-checked' >&2; cat tsc.out >&2; exit 1; }
      echo "misspelt.ts: $(echo "$errors" | grep -o "'batchSzie' does not exist in type" | head -1) (the expected error)"
    fi
  done
done

step "deno run app.mjs (the built package, from node_modules)"
deno="$root/node_modules/.bin/deno"
"$deno" run -A app.mjs
printf '\nconsumer tests passed\n'
