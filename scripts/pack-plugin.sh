#!/bin/sh
# Packs kubectl bwl as an npm package of its own, dist/kubectl-bwl-<version>.tgz: the bundled
# dist/kubectl-bwl.mjs and a package.json that asks for Node 20 or later and has no dependencies.
# The project's package.json asks for Node 24 (the operator's runtime), so installing the
# project itself on Node 20 warns; this package installs cleanly on any Node from 20 on:
#   npm install -g dist/kubectl-bwl-<version>.tgz
set -eu
cd "$(dirname "$0")/.."
sh scripts/bundle.sh
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' package.json)
dir=dist/kubectl-bwl-package
rm -rf "$dir"
mkdir -p "$dir"
cp dist/kubectl-bwl.mjs "$dir/kubectl-bwl.mjs"
cat > "$dir/package.json" <<JSON
{
  "name": "kubectl-bwl",
  "version": "$version",
  "description": "kubectl bwl: live per-node progress, plans and one-word operations for BatchWorkloads (batch.example.com/v1alpha1)",
  "type": "module",
  "bin": { "kubectl-bwl": "kubectl-bwl.mjs" },
  "files": ["kubectl-bwl.mjs"],
  "engines": { "node": ">=20" }
}
JSON
npm pack "./$dir" --pack-destination dist --silent >/dev/null
echo "dist/kubectl-bwl-$version.tgz"
