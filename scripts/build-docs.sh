#!/usr/bin/env bash
# Build the documentation strictly: every Sphinx warning fails the build, so a broken cross-
# reference, a literalinclude marker that moved out of an example DAG, or a docstring autodoc
# cannot read is caught here rather than by a reader.
#
# Why in the Airflow 3 test venv: autodoc imports the provider, and the provider imports Airflow,
# so the docs need the same environment the tests use. requirements/docs.txt only adds Sphinx and
# the theme on top of requirements/airflow3.txt (a stamp makes a second run a no-op).
# Why a fresh environment (-E) every time: Sphinx only re-reads changed files, and only re-reading
# everything makes it repeat every warning, which -W needs to fail.
#
# Usage: scripts/build-docs.sh [extra sphinx-build arguments]
# Environment: DOCS_VENV  use this existing venv instead of creating/refreshing .venv-af3
#              DOCS_OUT   output directory (default docs/_build/html)
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${DOCS_VENV:-}"
if [ -z "$venv" ]; then
    venv=".venv-af3"
    scripts/venv.sh "$venv" requirements/airflow3.txt
fi
out="${DOCS_OUT:-docs/_build/html}"

# The stamp covers the venv's own pins stamp too: scripts/venv.sh syncs the venv to its pins,
# which removes Sphinx, whenever those change. The import check catches any other removal.
stamp="$venv/.docs-stamp"
wanted="$(
    {
        cat requirements/docs.txt "$0"
        cat "$venv/.pins-stamp" 2>/dev/null || true
    } | sha256sum | cut -d' ' -f1
)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ] ||
    ! "$venv/bin/python" -c 'import sphinx, furo' 2>/dev/null; then
    echo ">> installing requirements/docs.txt into $venv"
    "$(scripts/uv.sh)" pip install --quiet --python "$venv/bin/python" -r requirements/docs.txt
    echo "$wanted" >"$stamp"
fi

echo ">> sphinx-build -W --keep-going -n -E -b html docs $out"
"$venv/bin/python" -m sphinx -W --keep-going -n -E -q -b html docs "$out" "$@"
echo ">> documentation built in $out/index.html"
