"""``make mutants``: break critical behaviours one at a time and check that a test notices.

Each mutant is a small, realistic bug: an exact snippet of the code and its replacement, plus
the tests that must fail because of it. For each one, a temporary copy of the repository gets the
replacement and the tests run there (the copy's package shadows the editable install through
``PYTHONPATH``). The result is one of:

* ``killed``: the tests failed, as they must;
* ``SURVIVED``: the tests passed with the bug in place: a missing test;
* ``TIMEOUT``: the tests did not finish within the limit (a hang is not a fast failure);
* ``ERROR``: the snippet is not in the code exactly once (the code moved: re-point the mutant),
  or the tests could not run (exit status other than 0 or 1).

Before the mutants, the unmutated copy runs every selected test once (the baseline): a mutant
whose tests fail anyway is an ``ERROR`` (being "killed" by them would prove nothing). Exit
status 0 only if every mutant was killed.

    python scripts/mutants.py                 # all mutants
    python scripts/mutants.py token-interval-dropped sensor-timeout-ignored-while-deferred
    python scripts/mutants.py --list          # ids, files and tests
    python scripts/mutants.py --rst           # the results as the table of docs/reliability.rst

Not part of ``make test``: it runs the selected tests once per mutant (about 15 minutes for all).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
#: Seconds one mutant's tests may take before it counts as a TIMEOUT.
TIMEOUT = 600.0
_SKIP_DIRS = {
    ".git",
    ".venv-af3",
    ".venv-af2",
    ".venv-tools",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "_build",
}


@dataclass(frozen=True)
class Mutant:
    """One bug: replace ``old`` (exactly once in ``file``) with ``new``; ``tests`` must then fail."""

    id: str
    what: str
    file: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "gcs-object-name-ignored",
        "GCS transfer ignores a custom object_name (writes to the default name)",
        "airflow_provider_fauna/transfers/base.py",
        "        return getattr(self, self.key_field) or DEFAULT_KEY_TEMPLATE\n",
        "        return DEFAULT_KEY_TEMPLATE\n",
        (
            "tests/transfers/test_transfer_dags.py::test_region_group_export_with_a_blocking_wait_and_a_custom_templated_key",
        ),
    ),
    Mutant(
        "s3-stored-size-unchecked",
        "S3 transfer no longer checks the stored object's size",
        "airflow_provider_fauna/transfers/fauna_to_s3.py",
        '        if head.get("ContentLength") != stats.size:\n',
        "        if False:\n",
        tuple(
            "tests/transfers/test_transfer_copy.py::"
            f"test_an_object_reported_different_is_deleted_and_one_in_an_unknown_form_is_kept[{store}-size-differs]"
            for store in ("moto", "s3rver")
        ),
    ),
    Mutant(
        "s3-buffers-whole-body",
        "S3 transfer reads the whole file into memory before uploading it",
        "airflow_provider_fauna/transfers/fauna_to_s3.py",
        "                reader,\n",
        '                __import__("io").BytesIO(b"".join(download)),\n',
        ("tests/transfers/test_transfer_memory.py::test_copying_a_file_twice_the_budget_keeps_memory_flat",),
    ),
    Mutant(
        "presigned-url-not-masked",
        "the provider's own mask_secret of the presigned URL dropped",
        "airflow_provider_fauna/transfers/session.py",
        "    if not url:\n        return\n",
        "    if True:\n        return\n",
        (
            "tests/behaviours/test_dagrun_behaviours.py::test_a_presigned_url_logged_by_user_code_is_masked_by_the_provider",
        ),
    ),
    Mutant(
        "token-interval-dropped",
        "data interval left out of the idempotency token",
        "airflow_provider_fauna/tasks.py",
        "(ti.dag_id, ti.task_id, ti.run_id, str(map_index), spec.scope, start, end, str(generation))",
        "(ti.dag_id, ti.task_id, ti.run_id, str(map_index), spec.scope, str(generation))",
        (
            "tests/behaviours/test_dagrun_behaviours.py::test_the_token_tells_requests_apart_within_one_run_id",
        ),
    ),
    Mutant(
        "token-scope-dropped",
        "scope (database / region group) left out of the idempotency token",
        "airflow_provider_fauna/tasks.py",
        "(ti.dag_id, ti.task_id, ti.run_id, str(map_index), spec.scope, start, end, str(generation))",
        "(ti.dag_id, ti.task_id, ti.run_id, str(map_index), start, end, str(generation))",
        (
            "tests/behaviours/test_dagrun_behaviours.py::test_the_token_tells_requests_apart_within_one_run_id",
        ),
    ),
    Mutant(
        "token-map-index-dropped",
        "map index left out of the idempotency token",
        "airflow_provider_fauna/tasks.py",
        "(ti.dag_id, ti.task_id, ti.run_id, str(map_index), spec.scope, start, end, str(generation))",
        "(ti.dag_id, ti.task_id, ti.run_id, spec.scope, start, end, str(generation))",
        (
            "tests/behaviours/test_dagrun_behaviours.py::test_the_token_tells_requests_apart_within_one_run_id",
        ),
    ),
    Mutant(
        "token-generation-dropped",
        "generation left out of the idempotency token (a Failed export is reused)",
        "airflow_provider_fauna/tasks.py",
        "(ti.dag_id, ti.task_id, ti.run_id, str(map_index), spec.scope, start, end, str(generation))",
        "(ti.dag_id, ti.task_id, ti.run_id, str(map_index), spec.scope, start, end)",
        (
            "tests/behaviours/test_dagrun_behaviours.py::test_the_token_tells_requests_apart_within_one_run_id",
        ),
    ),
    Mutant(
        "trigger-failed-as-complete",
        "the trigger reports a Failed request as Complete",
        "airflow_provider_fauna/triggers/logs.py",
        '                    yield TriggerEvent({"status": "terminal", "request": request.to_xcom()})\n',
        '                    yield TriggerEvent({"status": "terminal", "request": {**request.to_xcom(), "state": "Complete"}})\n',
        (
            "tests/behaviours/test_dagrun_behaviours.py::test_a_request_pending_at_the_first_check_that_ends_failed_fails_the_sensor",
        ),
    ),
    Mutant(
        "sensor-timeout-ignored-while-deferred",
        "the deferred wait gets no deadline (the sensor's timeout is ignored)",
        "airflow_provider_fauna/tasks.py",
        "                end_time=deadline,\n",
        "                end_time=None,\n",
        (
            "tests/operators/test_request_and_wait_dagruns.py::test_deferred_sensor_times_out_after_a_last_check",
        ),
    ),
    Mutant(
        "trigger-forgets-deadline-on-restart",
        "the trigger's serialized form drops its deadline (lost on a triggerer restart)",
        "airflow_provider_fauna/triggers/logs.py",
        '                "end_time": self.end_time,\n',
        "",
        ("tests/triggers/test_logs_trigger.py",),
    ),
    Mutant(
        "rotated-key-not-reread",
        "a key rotated during a wait or copy is never read again: the call fails on the old key",
        "airflow_provider_fauna/hooks/fauna.py",
        "        elif after.key != before.key:\n",
        "        elif False:\n",
        ("tests/hooks/test_fauna_hook.py::TestAuth",),
    ),
    Mutant(
        "failed-export-reused",
        "a retry reuses an export that ended Failed instead of starting a fresh one",
        "airflow_provider_fauna/tasks.py",
        "    if request.state != LogRequestState.COMPLETE:\n",
        "    if request.state == LogRequestState.DOES_NOT_EXIST:\n",
        (
            "tests/operators/test_request_and_wait_dagruns.py::test_a_failed_export_is_retried_with_a_fresh_request",
        ),
    ),
    Mutant(
        "empty-export-reused",
        "a cleared task reuses an export that ended DoesNotExist: no file for 24 hours",
        "airflow_provider_fauna/tasks.py",
        "    if request.state != LogRequestState.COMPLETE:\n",
        "    if request.is_failed:\n",
        (
            "tests/transfers/test_transfer_reruns.py::test_a_cleared_task_asks_again_after_no_logs_and_the_file_lands",
        ),
    ),
    Mutant(
        "replace-reuses-export",
        "a replace=True re-run re-copies the same finished export instead of a fresh one",
        "airflow_provider_fauna/tasks.py",
        "    if fresh:\n",
        "    if False:\n",
        ("tests/transfers/test_transfer_reruns.py::test_a_replace_rerun_exports_afresh_and_overwrites",),
    ),
    Mutant(
        "known-key-looked-at-after-submitting",
        "a re-run more than 24 h later exports and waits before it finds the object at its key",
        "airflow_provider_fauna/transfers/base.py",
        "            if not self.replace and (uri := self.landed_before(context, spec)) is not None:\n",
        "            if False and (uri := self.landed_before(context, spec)) is not None:\n",
        (
            "tests/transfers/test_transfer_reruns.py::test_a_rerun_after_24_hours_looks_at_the_destination_before_submitting",
        ),
    ),
    Mutant(
        "early-export-reused",
        "a cleared task reuses an export completed before its interval's end plus export_lag",
        "airflow_provider_fauna/tasks.py",
        "    if made is not None and made < ready_at:\n",
        "    if False:\n",
        ("tests/operators/test_request_rules.py",),
    ),
    Mutant(
        "export-lag-ignored",
        "an interval ending now is submitted at once, before its logs can be exportable",
        "airflow_provider_fauna/tasks.py",
        "    if remaining <= 0:\n        return\n",
        "    return\n",
        ("tests/operators/test_export_lag.py",),
    ),
    Mutant(
        "example-without-retries",
        "an example DAG drops its retries (the Airflow 3.3.2 race would fail its sensor)",
        "example_dags/example_fauna_logs_to_s3.py",
        '    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},\n',
        '    default_args={"retries": 0, "retry_delay": timedelta(minutes=5)},\n',
        ("tests/deployment/test_examples_keep_retries.py",),
    ),
    Mutant(
        "ci-skips-missing-dependencies",
        "with CI=true a missing test dependency skips again instead of failing",
        "tests/harness/ci.py",
        "    if in_ci():\n        pytest.importorskip = _importorfail\n",
        "    if False:\n        pytest.importorskip = _importorfail\n",
        ("tests/test_ci_skips.py",),
    ),
    Mutant(
        "gzip-start-unchecked",
        "a file that does not begin as gzip goes to the store (its MD5 ETag spares the decompression)",
        "airflow_provider_fauna/transfers/download.py",
        "        self._start.update(chunk)  # before a byte goes to the store\n",
        "",
        (
            "tests/transfers/test_transfer_edges.py::"
            "test_a_body_that_is_not_gzip_is_refused_even_when_its_md5_etag_is_right[s3-moto-plain-ndjson-auto]",
        ),
    ),
    Mutant(
        "s3-on-kill-unwired",
        "the S3 transfer's on_kill is given nothing to abort (a killed task's copy finishes)",
        "airflow_provider_fauna/transfers/fauna_to_s3.py",
        "        self._abort = reader.kill\n",
        "",
        (
            "tests/transfers/test_transfer_dags.py::test_a_task_killed_mid_copy_leaves_no_object_and_no_open_upload[s3-moto]",
        ),
    ),
    Mutant(
        "redirect-target-unmasked",
        "requests follows the download's redirects: the target's signature reaches urllib3's DEBUG line",
        "airflow_provider_fauna/transfers/download.py",
        "                    allow_redirects=False,\n",
        "                    allow_redirects=True,\n",
        (
            "tests/reliability/test_no_leaks.py::"
            "test_at_debug_a_path_signed_url_and_its_redirect_target_reach_no_task_log[moto]",
        ),
    ),
)


@dataclass
class Result:
    mutant: Mutant
    outcome: str
    seconds: float
    detail: str = ""


def copy_repo(target: Path) -> Path:
    """A copy of the working tree (uncommitted changes included), without venvs and caches."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in _SKIP_DIRS or n == "__pycache__"}

    shutil.copytree(REPO, target, ignore=ignore, symlinks=True)
    return target


def test_env(copy: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "AIRFLOW"))}
    # The copy's package (and its tests/harness) before the editable install of the original.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(copy), str(copy / "emulator"), str(copy / "tests"), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env["CI"] = "true"
    return env


def check_shadowing(copy: Path) -> None:
    """Fail loudly if the copy's package is not the one imported (mutants would test the original)."""
    found = subprocess.run(
        [sys.executable, "-c", "import airflow_provider_fauna as p; print(p.__file__)"],
        env=test_env(copy),
        cwd=copy,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not found.startswith(str(copy)):
        raise SystemExit(f"the copy's package is shadowed by {found}: mutants would not be tested")


def run_tests(
    copy: Path, tests: tuple[str, ...], timeout: float, first_failure: bool = True
) -> tuple[str, float, str]:
    """Run ``tests`` in ``copy``; return (exit status as text, seconds, output tail).

    With ``first_failure`` pytest stops at the first failure (a mutant is killed by one); without,
    it runs all and the tail lists every failing test (the baseline).
    """
    started = time.monotonic()
    stop = ["-x"] if first_failure else ["-rfE"]
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *stop, "-q", "-p", "no:cacheprovider", *tests],
            env=test_env(copy),
            cwd=copy,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started, ""
    lines = (done.stdout + done.stderr).strip().splitlines()
    tail = "\n".join(
        lines[-15:] if first_failure else [ln for ln in lines if ln.startswith(("FAILED ", "ERROR "))]
    )
    return str(done.returncode), time.monotonic() - started, tail


def apply(copy: Path, mutant: Mutant) -> str | None:
    """Apply ``mutant`` in ``copy``; an error message if its snippet is not there exactly once."""
    path = copy / mutant.file
    if not path.exists():
        return f"{mutant.file} does not exist"
    text = path.read_text()
    count = text.count(mutant.old)
    if count != 1:
        return f"the snippet occurs {count} times in {mutant.file} (expected once): re-point the mutant"
    path.write_text(text.replace(mutant.old, mutant.new))
    return None


def run_mutant(mutant: Mutant, workdir: Path, timeout: float, broken: set[str]) -> Result:
    failing = sorted(t for t in broken if any(t.startswith(sel) for sel in mutant.tests))
    if failing:
        return Result(mutant, "ERROR", 0.0, "its tests fail without the mutant: " + ", ".join(failing))
    copy = copy_repo(workdir / mutant.id)
    try:
        error = apply(copy, mutant)
        if error:
            return Result(mutant, "ERROR", 0.0, error)
        status, seconds, tail = run_tests(copy, mutant.tests, timeout)
        outcome = {"1": "killed", "0": "SURVIVED", "timeout": "TIMEOUT"}.get(status, "ERROR")
        detail = "" if outcome == "killed" else (f"pytest exit status {status}\n{tail}" if tail else "")
        return Result(mutant, outcome, seconds, detail)
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def rst_table(results: list[Result]) -> str:
    rows = [("Mutant", "What breaks", "Tests run", "Result")]
    for r in results:
        tests = ", ".join(f"``{t.split('::')[-1]}``" for t in r.mutant.tests)
        rows.append((f"``{r.mutant.id}``", r.mutant.what, tests, f"{r.outcome} ({r.seconds:.0f} s)"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    line = "  ".join("=" * w for w in widths)
    out = [line, "  ".join(c.ljust(w) for c, w in zip(rows[0], widths, strict=True)).rstrip(), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows[1:]]
    out.append(line)
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("ids", nargs="*", help="mutant ids (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--rst", action="store_true", help="also print the results as an RST table")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds per mutant")
    args = parser.parse_args(argv)
    known = {m.id: m for m in MUTANTS}
    unknown = [i for i in args.ids if i not in known]
    if unknown:
        parser.error(f"unknown mutant ids {unknown}; known: {sorted(known)}")
    chosen = [known[i] for i in args.ids] if args.ids else list(MUTANTS)
    if args.list:
        for m in chosen:
            print(f"{m.id}\n    {m.what}\n    {m.file}\n    tests: {' '.join(m.tests)}")
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="fauna-mutants-"))
    try:
        copy = copy_repo(workdir / "baseline")
        check_shadowing(copy)
        broken: set[str] = set()
        if not args.no_baseline:
            tests = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
            print(f">> baseline: {len(tests)} test selections on the unmutated copy", flush=True)
            status, seconds, tail = run_tests(copy, tests, args.timeout * 3, first_failure=False)
            if status not in ("0", "1"):
                print(f">> baseline could not run (exit {status}, {seconds:.0f} s)\n{tail}")
                return 1
            # A mutant whose tests fail anyway is reported as an ERROR, not as killed.
            broken = {line.split()[1] for line in tail.splitlines()}
            print(f">> baseline in {seconds:.0f} s: {len(broken)} failing: {sorted(broken)}", flush=True)
        shutil.rmtree(copy, ignore_errors=True)
        results = []
        for mutant in chosen:
            print(f">> {mutant.id}: {mutant.what}", flush=True)
            result = run_mutant(mutant, workdir, args.timeout, broken)
            results.append(result)
            print(f"   {result.outcome} in {result.seconds:.0f} s", flush=True)
            if result.detail:
                print("   " + result.detail.replace("\n", "\n   "), flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print("\n>> mutants:")
    for r in results:
        print(f"   {r.outcome:8}  {r.seconds:5.0f} s  {r.mutant.id}")
    if args.rst:
        print("\n" + rst_table(results))
    bad = [r for r in results if r.outcome != "killed"]
    print(
        f">> {len(results) - len(bad)} of {len(results)} mutants killed"
        + (f"; not: {[r.mutant.id for r in bad]}" if bad else "")
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
