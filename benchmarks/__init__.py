"""Benchmarks of airflow-provider-fauna, run with ``python -m benchmarks`` (``--quick`` for a short run).

Four benchmarks, each reporting its figures as ratios against a baseline measured in the same
run on the same servers, because the machines they run on are small and noisy and absolute
times mean little there:

* ``transfer_memory``: peak RSS of :class:`FaunaLogsToS3Operator` against the Amazon provider's
  ``HttpToS3Operator``, for log files of growing size (:mod:`benchmarks.transfer`).
* ``transfer_speed``: throughput of the same copies against a bare streaming copy
  (``requests`` stream into ``boto3``'s ``upload_fileobj``) (:mod:`benchmarks.transfer`).
* ``triggerer_scale``: a thousand ``FaunaLogsTrigger`` in one event loop against bare aiohttp
  pollers on the same schedule: CPU per status poll, event-loop stalls, memory per trigger
  (:mod:`benchmarks.triggerer`).
* ``api_economy``: status calls per log request against the vendor example's 1-second polling,
  and how late a completion is noticed (:mod:`benchmarks.api_economy`).

Everything runs on loopback: the Fauna emulator and moto's S3 server in processes of their
own, every measured copy or fleet of waits in a fresh subprocess (the ``*_worker`` modules).
Numbers go to ``benchmarks/results/<name>.json``.
"""

from __future__ import annotations
