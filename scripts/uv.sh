#!/usr/bin/env bash
# Print the path of a usable `uv`, installing it first when the machine has none.
#
# Why a private tool venv instead of `pip install --user uv`: a fresh machine may have a Python
# whose system site-packages refuse pip (PEP 668) or are not writable, while `python -m venv`
# works everywhere we support. The uv we install is pinned so every machine resolves the same way.
#
# Environment: PYTHON (interpreter used to bootstrap; default python3.11, else python3),
#              UV_VERSION (the version installed when uv is missing).
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="${UV_VERSION:-0.13.9}"
tools_venv=".venv-tools"

if command -v uv >/dev/null 2>&1 && uv --version >/dev/null 2>&1; then
    command -v uv
    exit 0
fi
if [ -x "$tools_venv/bin/uv" ] && "$tools_venv/bin/uv" --version >/dev/null 2>&1; then
    echo "$PWD/$tools_venv/bin/uv"
    exit 0
fi

python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
echo ">> uv not found: installing uv==$UV_VERSION into $tools_venv with $python" >&2
rm -rf "$tools_venv"
if "$python" -m venv "$tools_venv" >&2; then
    "$tools_venv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2
else
    # No venv/ensurepip on this Python (e.g. Debian without python3-venv): fall back to --user.
    rm -rf "$tools_venv"
    "$python" -m pip install --quiet --disable-pip-version-check --user "uv==$UV_VERSION" >&2
    mkdir -p "$tools_venv/bin"
    ln -sf "$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts", "posix_user"))')/uv" \
        "$tools_venv/bin/uv"
fi
echo "$PWD/$tools_venv/bin/uv"
