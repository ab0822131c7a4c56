"""The file goes wrong on its way: from the presigned URL, or into S3. Nothing partial may remain.

One table, one DAG run per row (``reliability_one_task``: the transfer requests, defers, copies;
one retry). Download faults come from the emulator (they strike the first download, or every
one); S3 faults from the test DAG's :class:`FaultyS3Transfer`, on its first try, through
botocore's event hooks on the real client. Every row runs on moto's S3 and on s3rver.

Each row says whether the first try recovers by itself (resuming with ``Range``, asking for a
new URL), fails and is healed by the retry, or fails both tries. In every case the bucket holds
either the exact file or nothing, and never an open multipart upload (where the store can list
them; s3rver cannot): the transfer lists the
bucket at the start of each try (XCom ``bucket_at_start``), which proves the failed try cleaned
up *before* the retry ran.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from fauna_emulator import FaultConfig
from reliability_support import Bucket, day_key, nov, statuses, submissions, xcom

pytestmark = pytest.mark.dagrun


@dataclass(frozen=True)
class Case:
    faults: FaultConfig = field(default_factory=FaultConfig)
    s3_fault: str = ""
    tries: int = 1  # tries the run takes
    landed: bool = True
    downloads: tuple[int, ...] = (200,)  # statuses of the downloads, in order
    new_urls: int = 0  # POST .../url calls
    log: str = ""  # what the failed try says


CASES = {
    "url-expires-mid-download": Case(
        FaultConfig(download_expire_mid_stream=True),
        downloads=(200, 403, 206),
        new_urls=1,
        log="asking for a new one",
    ),
    "connection-drops-mid-download": Case(
        FaultConfig(download_drop_after_bytes=5000), downloads=(200, 206), log="resuming"
    ),
    "body-truncated": Case(FaultConfig(download_truncate=True), downloads=(200, 206), log="resuming"),
    "body-corrupt": Case(
        FaultConfig(download_corrupt=True), tries=2, downloads=(200, 200), log="Nothing was stored"
    ),
    "connection-drops-at-every-byte": Case(
        FaultConfig(download_drop_after_bytes=0, download_fault_count=None),
        tries=2,
        landed=False,
        downloads=(200,) * 6,  # per try: the first read and max_resumes=2 resumes
        log="Gave up downloading",
    ),
    "s3-part-upload-fails": Case(s3_fault="part_upload_fails", tries=2, downloads=(200, 200)),
    "s3-completion-fails": Case(s3_fault="complete_fails", tries=2, downloads=(200, 200)),
    # The object landed whole: it is kept, never deleted for a lost answer.
    "s3-completion-answer-lost": Case(s3_fault="complete_answer_lost", log="yet the object landed whole"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_file_lands_whole_once_or_not_at_all(fauna: Any, bucket: str, dagruns: Any, name: str) -> None:
    case = CASES[name]
    store = Bucket(bucket)
    fauna.faults = case.faults

    run = dagruns.one("reliability_one_task", nov(7), s3_fault=case.s3_fault)

    task = run.task("to_s3")
    assert task.try_number == case.tries, run.summary()
    assert run.state == ("success" if case.landed else "failed"), run.summary()
    assert case.log in task.log
    (request,) = fauna.log_requests
    key = day_key(run.logical_date)
    state = store.state()
    assert not state.uploads, "an open multipart upload was left behind"
    if case.landed:
        assert state.objects == [key]
        assert store.read(key) == fauna.file_bytes(request["request_id"])
    else:
        assert state.objects == []
    if case.tries > 1:
        assert xcom(run, "to_s3", "bucket_at_start") == {"try": 2, **store.empty()}, (
            "the failed try left something"
        )
    assert statuses(fauna.download_calls()) == list(case.downloads)
    assert len(fauna.api_calls("POST", f"/api/v1/logs/{request['request_id']}/url")) == case.new_urls
    assert len(submissions(fauna)) == case.tries, "each try submits once, with the same token"
