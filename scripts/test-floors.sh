#!/usr/bin/env bash
# Prove the dependency floors: install the BUILT wheels (provider + emulator) into a fresh venv
# holding the oldest versions pyproject.toml allows (requirements/floors.txt: Airflow 2.11.0 and
# the oldest supported common-compat, amazon and google providers), then run the test suite
# there, from outside the checkout, so every import of the provider is the installed wheel's.
#
# Why the whole suite: it takes about as long as `make test-af2` and the floors can break any
# path (the hook's compat imports, S3Hook, GCSHook, the example DAGs), not only the transfers.
# Less the benchmarks' smoke test: the benchmarks are a developer tool of the checkout, run on
# the pinned Airflow 3 venv (`make bench`), not something the wheel's users run.
#
# Usage: scripts/test-floors.sh [extra pytest arguments]
# Environment: PYTHON (interpreter for the venv), FLOORS_VENV (default .venv-floors).
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

venv="${FLOORS_VENV:-.venv-floors}"
pins=requirements/floors.txt
python="${PYTHON:-$(command -v python3.11 || command -v python3)}"
uv_bin="$(scripts/uv.sh)"
start=$SECONDS

scripts/build-dist.sh
wheel="$(ls dist/airflow_provider_fauna-*.whl)"
emulator_wheel="$(ls dist/fauna_emulator-*.whl)"

# The pins must be the floors: a floor raised in pyproject.toml without floors.in (or the other
# way round) would leave the declared floor untested.
"$python" - "$wheel" requirements/floors.in <<'PY'
import re, sys, zipfile
wheel, floors_in = sys.argv[1:]
with zipfile.ZipFile(wheel) as zf:
    meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
    requires = [l.split(":", 1)[1].strip() for l in zf.read(meta).decode().splitlines() if l.startswith("Requires-Dist:")]
floors = {}
for req in requires:
    m = re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)", req)
    if m:
        floors[m.group(1).lower()] = m.group(2)
pins = dict(
    l.split("==", 1) for l in (x.split("#")[0].strip() for x in open(floors_in)) if "==" in l
)
pins = {re.sub(r"\[.*\]", "", k).lower(): v for k, v in pins.items()}
wrong = {name: (floor, pins.get(name)) for name, floor in floors.items() if pins.get(name) != floor}
if wrong:
    for name, (floor, pin) in sorted(wrong.items()):
        print(f"error: the wheel requires {name}>={floor} but requirements/floors.in pins {pin}", file=sys.stderr)
    sys.exit(1)
print(f">> floors.in pins every floor the wheel declares: {', '.join(f'{k}=={v}' for k, v in sorted(floors.items()))}")
PY

rm -rf "$venv"
"$uv_bin" venv --quiet --python "$python" "$venv"
"$uv_bin" pip sync --quiet --compile-bytecode --python "$venv/bin/python" "$pins"
# --no-deps, then `uv pip check`: the floors venv must already satisfy what the wheel requires;
# a resolver would quietly upgrade past a floor instead.
"$uv_bin" pip install --quiet --no-deps --compile-bytecode --python "$venv/bin/python" "$wheel" "$emulator_wheel"
"$uv_bin" pip check --quiet --python "$venv/bin/python"
echo ">> $venv: the built wheels on $(
    "$venv/bin/python" -c 'import importlib.metadata as m; print(", ".join(f"{d} {m.version(d)}" for d in ("apache-airflow", "apache-airflow-providers-common-compat", "apache-airflow-providers-amazon", "apache-airflow-providers-google")))'
) ($((SECONDS - start)) s)"

# From a scratch directory: the checkout is then not on sys.path, so `airflow_provider_fauna`
# can only be the installed wheel (tests/ is added by pytest's pythonpath setting).
# Inside the venv, not in /tmp: a shared /tmp may be swept while the suite runs.
work="$repo/$venv/cwd"
mkdir -p "$work"
cd "$work"
"$repo/$venv/bin/python" -c '
import airflow_provider_fauna, fauna_emulator
for module in (airflow_provider_fauna, fauna_emulator):
    assert "site-packages" in module.__file__, f"{module.__name__} comes from {module.__file__}, not the wheel"
'
# Everything that touches the provider's dependencies runs; left out is what does not depend on
# them (the emulator's own tests, the demo, the benchmarks, the 192 MiB memory test, the s3rver
# twin of each S3 case: the floors are about Airflow and its providers, not the store), and the
# Airflow 3 deployment tests, which skip on 2.11 anyway. This keeps `make test` well under CI's limit.
"$repo/$venv/bin/python" -m pytest -ra --durations=10 -p no:cacheprovider \
    --rootdir "$repo" -c "$repo/pyproject.toml" --ignore "$repo/tests/test_benchmarks_smoke.py" \
    --ignore "$repo/tests/emulator" --ignore "$repo/tests/deployment" --ignore "$repo/tests/test_demo.py" \
    --ignore "$repo/tests/transfers/test_transfer_memory.py" -k "not s3rver" \
    "$@" "$repo/tests"
echo ">> the floors passed with the built wheels in $((SECONDS - start)) s"
