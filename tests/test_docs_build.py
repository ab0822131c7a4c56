"""The documentation's promises that can be checked without a browser.

The docs quote the example DAGs through ``literalinclude`` with ``[START ...]``/``[END ...]``
markers, so an edit to an example can silently cut a snippet in half or drop it. These tests
catch that on every run, on both Airflow lines, without Sphinx: every include names an existing
file and markers that occur exactly once, in order, around something to show; and every example
DAG parses on the running Airflow with the schedule the docs recommend.

The strict Sphinx build itself is ``scripts/build-docs.sh`` (``make docs``), not a test here:
Sphinx is not in the test environments, and a test that runs only where someone installed it by
hand would pass in CI without checking anything.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from harness.env import REPO_ROOT, airflow_version

DOCS = REPO_ROOT / "docs"
EXAMPLES = REPO_ROOT / "example_dags"
EXAMPLE_FILES = sorted(EXAMPLES.glob("example_*.py"))

_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\. literalinclude:: (?P<path>\S+)\s*$")
_OPTION = re.compile(r"^\s+:(?P<name>[a-z-]+):\s*(?P<value>.*)$")
_MARKER = re.compile(r"#\s*\[(?P<kind>START|END) (?P<name>[a-z0-9_]+)\]")


def _literalincludes() -> list[tuple[str, Path, dict[str, str]]]:
    """Every ``literalinclude`` in the docs: where it is, the file it names, its options."""
    found = []
    for page in sorted(DOCS.rglob("*.rst")):
        if "_build" in page.parts:
            continue
        lines = page.read_text().splitlines()
        for number, line in enumerate(lines):
            match = _DIRECTIVE.match(line)
            if not match:
                continue
            options: dict[str, str] = {}
            for following in lines[number + 1 :]:
                option = _OPTION.match(following)
                if not option:
                    break
                options[option["name"]] = option["value"].strip()
            where = f"{page.relative_to(REPO_ROOT)}:{number + 1}"
            found.append((where, (page.parent / match["path"]).resolve(), options))
    return found


INCLUDES = _literalincludes()


def test_the_docs_include_every_example_dag() -> None:
    included = {path for _, path, _ in INCLUDES}
    assert EXAMPLE_FILES, "no example DAGs found"
    assert INCLUDES, "no literalinclude found in docs/"
    assert not set(EXAMPLE_FILES) - included, "example DAGs the docs never show"


@pytest.mark.parametrize(("where", "path", "options"), INCLUDES, ids=[w for w, _, _ in INCLUDES])
def test_literalinclude_markers_frame_a_snippet(where: str, path: Path, options: dict[str, str]) -> None:
    assert path.is_file(), f"{where} includes {path}, which does not exist"
    text = path.read_text()
    start, end = options.get("start-after"), options.get("end-before")
    assert start and end, f"{where} must include a marked snippet (:start-after: and :end-before:)"
    assert text.count(start) == 1, f"{where}: {start!r} occurs {text.count(start)} times in {path.name}"
    assert text.count(end) == 1, f"{where}: {end!r} occurs {text.count(end)} times in {path.name}"
    snippet = text.split(start, 1)[1].split(end, 1)
    assert len(snippet) == 2, f"{where}: {end!r} comes before {start!r} in {path.name}"
    # Sphinx starts after the marker's line and stops before the end marker's line.
    lines = snippet[0].split("\n")[1:-1]
    assert any(line.strip() for line in lines), f"{where}: the snippet between the markers is empty"
    dedent = int(options.get("dedent", "0") or 0)
    cut = [line for line in lines if line.strip() and not line.startswith(" " * dedent)]
    assert not cut, f"{where}: ':dedent: {dedent}' would cut code off these lines: {cut}"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[p.name for p in EXAMPLE_FILES])
def test_example_markers_are_paired(path: Path) -> None:
    starts: dict[str, int] = {}
    ends: dict[str, int] = {}
    for number, line in enumerate(path.read_text().splitlines()):
        for match in _MARKER.finditer(line):
            names = starts if match["kind"] == "START" else ends
            assert match["name"] not in names, f"{path.name}:{number + 1}: {match[0]} appears twice"
            names[match["name"]] = number
    assert starts.keys() == ends.keys(), f"{path.name}: unpaired markers"
    for name, line in starts.items():
        assert line < ends[name], f"{path.name}: [END {name}] comes before [START {name}]"


def _dag_bag(folder: Path) -> object:
    if airflow_version() >= (3, 0):
        from airflow.dag_processing.dagbag import DagBag

        return DagBag(dag_folder=str(folder))
    from airflow.models.dagbag import DagBag

    return DagBag(dag_folder=str(folder), include_examples=False)


#: The examples of partitioned runs, Airflow 3.2+ only, and the timetable each one shows.
PARTITION_EXAMPLES = {
    "example_fauna_daily_partitions": "CronPartitionTimetable",
    "example_fauna_partitioned_consumer": "PartitionedAssetTimetable",
}


def test_example_dags_parse_with_interval_timetables() -> None:
    from airflow.timetables.interval import CronDataIntervalTimetable

    bag = _dag_bag(EXAMPLES)
    partitions = airflow_version() >= (3, 2)
    if partitions:
        assert not bag.import_errors, f"example DAGs do not import: {bag.import_errors}"
    else:  # by design: those examples import what Airflow 3.2 added, and nothing else fails
        errors = {Path(path).stem: error for path, error in bag.import_errors.items()}
        assert errors.keys() == PARTITION_EXAMPLES.keys(), errors
        assert all("airflow.sdk" in error for error in errors.values()), errors
    expected = {path.stem for path in EXAMPLE_FILES} - (set() if partitions else PARTITION_EXAMPLES.keys())
    assert set(bag.dags) == expected, "each example defines one DAG named after its file"
    for dag_id, dag in bag.dags.items():
        if dag_id in PARTITION_EXAMPLES:
            assert type(dag.timetable).__name__ == PARTITION_EXAMPLES[dag_id], dag.timetable
            continue
        assert isinstance(dag.timetable, CronDataIntervalTimetable), (
            f"{dag_id}: the docs promise an interval timetable (schedule='@daily' is zero-width on Airflow 3)"
        )
        assert dag.max_active_runs <= 4, f"{dag_id}: the docs promise a polite max_active_runs"
