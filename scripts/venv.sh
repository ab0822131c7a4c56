#!/usr/bin/env bash
# Create or refresh one test virtualenv from a pin file, and do nothing when it is up to date.
#
# Usage: scripts/venv.sh VENV_DIR PIN_FILE
#
# The venv gets every pinned package plus this project installed editable with its extras
# (`-e .[amazon,google]`) and the emulator, its own distribution (`-e ./emulator`). A stamp file inside the venv holds a hash of the pin file, pyproject.toml,
# this script and the interpreter's version: when none changed, the script exits in well under a
# second, so `make test` can always call it. When one changed, packages are (re)installed in place
# (uv only touches what differs); a venv whose interpreter no longer runs is rebuilt from scratch.
#
# Environment: PYTHON (interpreter for new venvs; default python3.11, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${1:?usage: scripts/venv.sh VENV_DIR PIN_FILE}"
pins="${2:?usage: scripts/venv.sh VENV_DIR PIN_FILE}"
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
stamp="$venv/.pins-stamp"

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: $python is not Python 3.11 or newer (the pinned Amazon provider needs 3.11);" \
        "install python3.11 or run with PYTHON=/path/to/python3.11" >&2
    exit 1
fi
if [ ! -f "$pins" ]; then
    echo "error: pin file $pins does not exist (run \`make pins\`)" >&2
    exit 1
fi

wanted="$(
    {
        cat "$pins" pyproject.toml emulator/pyproject.toml "$0"
        "$python" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
)"

version_of() { "$1" -c 'import sys; print(sys.version)' 2>/dev/null; }
if [ -x "$venv/bin/python" ] && [ "$(version_of "$venv/bin/python")" = "$(version_of "$python")" ]; then
    if [ "$(cat "$stamp" 2>/dev/null || true)" = "$wanted" ]; then
        exit 0
    fi
else
    # Missing, broken, or built on another interpreter: start over.
    rm -rf "$venv"
fi

uv_bin="$(scripts/uv.sh)"
start=$SECONDS
if [ ! -d "$venv" ]; then
    echo ">> creating $venv with $python"
    "$uv_bin" venv --quiet --python "$python" "$venv"
fi
echo ">> installing $pins, -e .[amazon,google] and -e ./emulator into $venv"
rm -f "$stamp"
# sync, not install: a package dropped from the pins must leave the venv too, or tests could pass
# here on an import that a fresh machine no longer has. The project itself is installed after it,
# with its dependencies, so a dependency added to pyproject.toml before `make pins` still installs.
# --compile-bytecode (what each command installs): uv does not compile by default and
# PYTHONDONTWRITEBYTECODE may be set, so every Airflow process would compile its imports from
# source, unlike a pip install.
"$uv_bin" pip sync --quiet --compile-bytecode --python "$venv/bin/python" "$pins"
"$uv_bin" pip install --quiet --compile-bytecode --python "$venv/bin/python" -e ".[amazon,google]" -e ./emulator
echo "$wanted" >"$stamp"
echo ">> $venv ready in $((SECONDS - start)) s"
