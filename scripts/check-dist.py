"""Check what the built distributions in dist/ hold (run by scripts/build-dist.sh).

The provider's wheel must carry LICENSE, py.typed, the ``apache_airflow_provider`` entry point
and the package, and nothing else: no tests, no emulator, no example DAGs, no docs. The
emulator's wheel carries LICENSE, py.typed, its package and its console script. Each sdist
carries LICENSE and builds only its own package.

Usage: python scripts/check-dist.py DIST_DIR
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from pathlib import Path

PROVIDER_ENTRY_POINT = (
    "[apache_airflow_provider]\nprovider_info = airflow_provider_fauna.get_provider_info:get_provider_info"
)
EMULATOR_SCRIPT = "[console_scripts]\nfauna-emulator = fauna_emulator.__main__:main"


def only(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"error: expected one {pattern} in {dist}, found {[p.name for p in found]}")
    return found[0]


def check_wheel(path: Path, package: str, entry_points: str) -> list[str]:
    problems = []
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        entry = (
            archive.read(f"{info}/entry_points.txt").decode() if f"{info}/entry_points.txt" in names else ""
        )
        metadata = archive.read(f"{info}/METADATA").decode()
    tops = {n.split("/")[0] for n in names}
    if tops != {package, info}:
        problems.append(f"holds {sorted(tops - {package, info})} besides {package} and its metadata")
    if f"{info}/licenses/LICENSE" not in names:
        problems.append("has no LICENSE")
    if f"{package}/py.typed" not in names:
        problems.append("has no py.typed")
    if any("/tests/" in f"/{n}" or n.split("/")[-1].startswith("test_") for n in names):
        problems.append("holds tests")
    if any(n.endswith((".pyc", ".so")) for n in names):
        problems.append("holds compiled files")
    if entry_points not in entry:
        problems.append(f"lacks the entry point {entry_points!r} (has {entry!r})")
    if "License-Expression: Apache-2.0" not in metadata:
        problems.append("does not declare License-Expression: Apache-2.0")
    return [f"{path.name} {p}" for p in problems]


def check_sdist(path: Path, package: str, unwanted: tuple[str, ...]) -> list[str]:
    problems = []
    with tarfile.open(path) as archive:
        names = [n.split("/", 1)[1] for n in archive.getnames() if "/" in n]
    if "LICENSE" not in names:
        problems.append("has no LICENSE")
    if not any(n.startswith(f"{package}/") for n in names):
        problems.append(f"has no {package}/")
    stray = sorted({n.split("/")[0] for n in names if n.split("/")[0] in unwanted})
    if stray:
        problems.append(f"holds {stray}")
    return [f"{path.name} {p}" for p in problems]


def main(dist: Path) -> int:
    problems = [
        *check_wheel(
            only(dist, "airflow_provider_fauna-*.whl"), "airflow_provider_fauna", PROVIDER_ENTRY_POINT
        ),
        *check_wheel(only(dist, "fauna_emulator-*.whl"), "fauna_emulator", EMULATOR_SCRIPT),
        *check_sdist(
            only(dist, "airflow_provider_fauna-*.tar.gz"),
            "airflow_provider_fauna",
            ("tests", "emulator", "benchmarks", ".ci", "scripts", "requirements"),
        ),
        *check_sdist(
            only(dist, "fauna_emulator-*.tar.gz"), "fauna_emulator", ("tests", "airflow_provider_fauna")
        ),
    ]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print(f">> dist/ checked: {', '.join(sorted(p.name for p in dist.iterdir()))}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "dist")))
