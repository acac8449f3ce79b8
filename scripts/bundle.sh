#!/bin/sh
# Bundles the operator into one JavaScript file, dist/operator.mjs: what the image, the flake,
# `npm start` and `npm run bench` run. One file of plain JavaScript starts with about 40 MB less
# resident memory than `node src/main.ts` (no TypeScript stripping in the process, only the Effect
# modules the operator uses), see README "Decisions". esbuild comes from node_modules/.bin
# (npm run build) or from PATH (the flake's pkgs.esbuild). POSIX sh: the alpine image has no bash.
set -eu
cd "$(dirname "$0")/.."
esbuild=node_modules/.bin/esbuild
[ -x "$esbuild" ] || esbuild=esbuild
# Some bundled CommonJS code calls require() for Node built-ins; an ES module has none of its own.
"$esbuild" src/main.ts \
  --bundle --platform=node --format=esm --target=node24 \
  --outfile=dist/operator.mjs --log-level=warning \
  --banner:js="import { createRequire as bundleCreateRequire } from 'node:module'; const require = bundleCreateRequire(import.meta.url);"
# kubectl bwl (src/cli/main.ts): dist/kubectl-bwl.mjs, the npm package's bin, for any Node from 20 on.
"$esbuild" src/cli/main.ts \
  --bundle --platform=node --format=esm --target=node20 --minify \
  --outfile=dist/kubectl-bwl.mjs --log-level=warning \
  --banner:js="#!/usr/bin/env node
import { createRequire as bundleCreateRequire } from 'node:module'; const require = bundleCreateRequire(import.meta.url);"
chmod +x dist/kubectl-bwl.mjs
