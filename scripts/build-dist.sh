#!/usr/bin/env bash
# Build the sdists and wheels of the provider and of the emulator into dist/, then check them:
# `twine check --strict` (what PyPI renders of the long description and metadata) and
# scripts/check-dist.py (what the archives hold: LICENSE, py.typed, the provider entry point,
# no tests, the emulator only in its own distribution).
#
# Tools are pinned in requirements/dist.txt: hatchling as a build constraint, twine run by uv
# from its cache (no venv of ours to keep).
set -euo pipefail
cd "$(dirname "$0")/.."
uv_bin="$(scripts/uv.sh)"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"

twine="$(grep '^twine==' requirements/dist.txt)"
constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
grep '^hatchling==' requirements/dist.txt >"$constraints"

rm -rf dist
echo ">> building the provider and the emulator (sdist + wheel) into dist/"
"$uv_bin" build --quiet --build-constraints "$constraints" --out-dir dist .
"$uv_bin" build --quiet --build-constraints "$constraints" --out-dir dist emulator
"$uv_bin" tool run --quiet --from "$twine" twine check --strict dist/*
"$python" scripts/check-dist.py dist
