"""One label model across workers: merge every worker's statistics, publish parameters.

Each labeler worker learns its share of the stream into its own
:class:`~streamlabel.labelmodel.OnlineLabelModel` and publishes it (its decayed, additive
statistics) to the compacted ``labelmodel-stats`` topic, keyed ``group id/worker id``,
every ``snapshot_every`` batches and when it stops. The aggregator keeps the latest record
of every worker of the group, merges them (:meth:`OnlineLabelModel.merge`: the statistics
are summed, the moment fit is refreshed) and publishes the result to the compacted
``labelmodel-params`` topic, keyed by the group id; every worker predicts with it.

Why the latest *cumulative* statistics of each worker rather than deltas: a record
published twice, or re-read after a restart of the aggregator, changes nothing (a delta
would be counted twice), and compaction keeps exactly what the merge needs.

``python -m streamlabel.stream._aggregator`` (``streamlabel aggregate``) runs it with
``STREAMLABEL_*`` settings until SIGTERM or SIGINT. The merging itself,
:class:`StatsAggregator`, knows nothing of Kafka.
"""

from __future__ import annotations

import argparse
import functools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from streamlabel.labelmodel import OnlineLabelModel
from streamlabel.metrics import Metrics
from streamlabel.stream._app import Output, RawEvent
from streamlabel.stream._service import (
    Snapshot,
    SnapshotError,
    parse_snapshot,
    record_lag,
    record_producer,
    send_record,
    serve_until_signalled,
    snapshot_value,
)
from streamlabel.stream._settings import StreamSettings

__all__ = ["StatsAggregator", "main", "run_aggregator", "serve_aggregator"]

logger = logging.getLogger("streamlabel.stream")


class StatsAggregator:
    """Hold the latest statistics of every worker of ``group``; merge them on demand.

    Parameters
    ----------
    group : str
        The labeler's consumer group id: records keyed ``group/<worker>`` are taken.
    max_age : float, optional
        Seconds after which a worker's last record is left out of the merge (a worker
        that went away); None keeps every worker.
    clock : callable, default=time.time
        Epoch seconds, compared with each record's ``at``.

    Attributes
    ----------
    workers_ : dict of str to Snapshot
        The latest record of each worker.
    ignored_ : int
        Records of other groups, unreadable ones and ones that do not fit the others.

    Examples
    --------
    >>> import json
    >>> from streamlabel.datasets import make_bipolar_stream
    >>> agg = StatsAggregator("g", clock=lambda: 10.0)
    >>> stream = make_bipolar_stream(400, 2, 3, seed=0)
    >>> for w, rows in (("w1", slice(0, 200)), ("w2", slice(200, 400))):
    ...     m = OnlineLabelModel(2)
    ...     m.learn_many(stream.L[rows], stream.lf_ids)
    ...     value = snapshot_value(m, key=f"g/{w}", lfset=("s", "1"), batches=1, at=10.0)
    ...     agg.offer(RawEvent(f"g/{w}".encode(), json.dumps(value).encode(), "stats", 0, 0))
    True
    True
    >>> agg.merged().n_events_
    400
    >>> agg.params().value["workers"]
    ['w1', 'w2']
    """

    def __init__(
        self,
        group: str,
        *,
        max_age: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.group = group
        self.max_age = max_age
        self.clock = clock
        self.workers_: dict[str, Snapshot] = {}
        self.ignored_ = 0

    def offer(self, record: RawEvent) -> bool:
        """Take one ``labelmodel-stats`` record; return whether the merge changed.

        A tombstone (empty value) removes the worker.
        """
        key = None if record.key is None else record.key.decode("utf-8", "replace")
        prefix = self.group + "/"
        if key is None or not key.startswith(prefix) or len(key) == len(prefix):
            self.ignored_ += 1
            return False
        worker = key[len(prefix) :]
        if not record.value:
            return self.workers_.pop(worker, None) is not None
        try:
            snap = parse_snapshot(record.value, record.source)
        except SnapshotError as exc:
            self.ignored_ += 1
            logger.warning("statistics of worker %r ignored: %s", worker, exc)
            return False
        self.workers_[worker] = snap
        return True

    def current(self) -> dict[str, Snapshot]:
        """Return the workers whose latest record is recent enough to merge."""
        if self.max_age is None:
            return dict(self.workers_)
        oldest = self.clock() - self.max_age
        return {w: s for w, s in self.workers_.items() if s.at >= oldest}

    def merged(self) -> OnlineLabelModel | None:
        """Merge the current workers' models (None when there is none).

        Workers whose model does not fit the newest one (another LF set name,
        cardinality or settings) are left out and counted in ``ignored_``.
        """
        found = self._merge()
        return None if found is None else found[1]

    def params(self) -> Output | None:
        """Return the ``labelmodel-params`` record of the merge now (None without workers).

        Its value is a :func:`~streamlabel.stream.snapshot_value` of the merged model
        (LF set version: the newest record's; ``batches``: the workers' sum) plus
        ``workers``, the names merged.
        """
        found = self._merge()
        if found is None:
            return None
        snaps, model = found
        newest = max(snaps.values(), key=lambda s: s.at)
        value = snapshot_value(
            model,
            key=self.group,
            lfset=(newest.lfset, newest.lfset_version),
            batches=sum(s.batches for s in snaps.values()),
            at=self.clock(),
        )
        value["workers"] = sorted(snaps)
        return Output("labelmodel-params", self.group, value)

    def _merge(self) -> tuple[dict[str, Snapshot], OnlineLabelModel] | None:
        current = self.current()
        if not current:
            return None
        newest = max(current.values(), key=lambda s: s.at)
        ref = newest.model
        snaps: dict[str, Snapshot] = {}
        for worker in sorted(current):
            snap = current[worker]
            m = snap.model
            if snap.lfset != newest.lfset or m._settings() != ref._settings():
                logger.warning(
                    "statistics of worker %r left out: LF set %r, settings %s (newest: %r, %s)",
                    worker,
                    snap.lfset,
                    m._settings(),
                    newest.lfset,
                    ref._settings(),
                )
                self.ignored_ += 1
                continue
            snaps[worker] = snap
        models = [s.model for s in snaps.values()]
        return snaps, functools.reduce(OnlineLabelModel.merge, models)


def run_aggregator(
    settings: StreamSettings,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    poll_timeout: float = 0.5,
    metrics: Metrics | None = None,
) -> StatsAggregator:
    """Follow ``labelmodel-stats`` and publish merged parameters until ``should_stop()``.

    Reads the topic from its beginning (no consumer group: the aggregator needs every
    worker's record) with kafka-python, and publishes ``labelmodel-params`` at most every
    ``settings.params_interval`` seconds, when a record changed the merge. ``metrics``
    (optional) counts the records read (``taken`` / ``ignored``) and the parameters
    published, the workers merged, and the consumer lag on ``labelmodel-stats``.

    Returns
    -------
    StatsAggregator
        Its state when it stopped.
    """
    from kafka import KafkaConsumer, TopicPartition

    agg = StatsAggregator(settings.group_id, max_age=settings.stats_max_age)
    stats = settings.topic("labelmodel-stats")
    consumer = KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        client_id=f"{settings.group_id}-aggregator",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    producer = record_producer(settings, "aggregator")
    try:
        parts: set[int] | None = None
        while not should_stop() and not parts:
            parts = consumer.partitions_for_topic(stats)
            if not parts:
                time.sleep(poll_timeout)
        if not parts:
            return agg
        tps = [TopicPartition(stats, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        logger.warning("streamlabel aggregator following %s for group %r", stats, settings.group_id)
        dirty = False
        last = 0.0
        while not should_stop():
            for batch in consumer.poll(timeout_ms=int(poll_timeout * 1000)).values():
                for rec in batch:
                    raw = RawEvent(rec.key, rec.value or b"", rec.topic, rec.partition, rec.offset)
                    ignored = agg.ignored_
                    dirty |= agg.offer(raw)
                    if metrics is not None:
                        outcome = "ignored" if agg.ignored_ != ignored else "taken"
                        metrics.stats_records.labels(outcome).inc()
            now = time.monotonic()
            if dirty and now - last >= settings.params_interval:
                out = agg.params()
                if out is not None:
                    _publish(producer, settings, out)
                    if metrics is not None:
                        metrics.params_published.inc()
                        metrics.aggregator_workers.set(len(out.value["workers"]))
                dirty = False
                last = now
            if metrics is not None:
                record_lag(consumer, metrics)
    finally:
        consumer.close()
        producer.close(timeout=10)
    return agg


def _publish(producer: Any, settings: StreamSettings, out: Output) -> None:
    send_record(producer, settings, out, timeout=30.0)
    logger.warning(
        "streamlabel params published: version %s from %d worker(s) %s",
        out.value["labelmodel_version"],
        len(out.value["workers"]),
        ",".join(out.value["workers"]),
    )


def serve_aggregator(settings: StreamSettings, *, loglevel: str = "warning") -> None:
    """Run :func:`run_aggregator` until SIGTERM or SIGINT, then exit the process (status 0)."""
    serve_until_signalled(
        settings,
        "aggregator",
        lambda should_stop, metrics: run_aggregator(
            settings, should_stop=should_stop, metrics=metrics
        ),
        loglevel=loglevel,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the aggregator with settings from ``STREAMLABEL_*`` until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m streamlabel.stream._aggregator")
    parser.add_argument("--loglevel", default="warning", help="log level")
    args = parser.parse_args(argv)
    serve_aggregator(StreamSettings.from_env(), loglevel=args.loglevel)


if __name__ == "__main__":  # pragma: no cover
    main()
