"""The predictor service: ``events`` to ``predictions`` with the champion from ``models``.

One asyncio process, no Faust worker (it needs no agents, tables or changelogs):

- a follower of the compacted ``models`` topic (aiokafka, no consumer group, every
  partition, from the beginning): each poll's records go to
  :meth:`~streamlabel.pipeline.Predictor.offer_models` **in a thread**, so loading and
  verifying a new version (tens of ms) never blocks scoring or HTTP; the swap itself is
  one reference change inside :class:`~streamlabel.models.ServingModel`;
- the :class:`~streamlabel.stream._reader.BatchedReader` on ``events`` in the predictor's
  own consumer group (:attr:`StreamSettings.predictor_group_id`), started only once a
  model serves: before that no event is read, so none is committed unpredicted; outputs
  (``predictions`` keyed by event id, ``dlq`` keyed ``topic:partition:offset``) are
  delivered before the batch's offsets are committed (at least once);
- an aiohttp server (``predictor_host``:``predictor_port``, loopback by default):
  ``POST /predict``, ``GET /healthz``, ``GET /readyz``, ``GET /model`` and, with
  ``metrics_enabled``, ``GET /metrics`` (the service's :class:`~streamlabel.metrics.Metrics`:
  predictions and latency by path, DLQ, model info, swaps and load failures, consumer lag).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from streamlabel.metrics import CONTENT_TYPE, Metrics
from streamlabel.pipeline import Predictor, Source
from streamlabel.stream._app import Output, RawEvent, ensure_topics
from streamlabel.stream._logs import configure_service_logging
from streamlabel.stream._service import StartupError
from streamlabel.stream._settings import StreamSettings
from streamlabel.stream._topics import end_offsets

__all__ = ["PredictorHandler", "PredictorService", "serve_predictor"]

logger = logging.getLogger("streamlabel.stream")

# Seconds a stopping reader gets to finish, deliver and commit the batch in progress.
_STOP_TIMEOUT_S = 65.0


class PredictorHandler:
    """Adapt a :class:`~streamlabel.pipeline.Predictor` to the batch-handler interface.

    ``handler(batch)`` returns one ``predictions`` record per valid event (key: event id,
    value: :meth:`PredictionRecord.to_dict`) and one ``dlq`` record per invalid one (key:
    ``topic:partition:offset``, value: :meth:`DLQRecord.to_dict` plus
    ``"service": "predictor"``, since the labeler DLQs the same event under the same key).

    With ``metrics``, every batch counts its events, predictions (``path="stream"``),
    DLQ records by reason, and observes the batch's time per event (once per event) in
    the prediction latency histogram.

    Examples
    --------
    >>> handler = PredictorHandler(Predictor("fraud"))
    >>> [(o.topic, o.key, o.value["reason"]) for o in handler([RawEvent(None, b"x", "ev", 0, 3)])]
    [('dlq', b'ev:0:3', 'not_json')]
    """

    def __init__(self, predictor: Predictor, metrics: Metrics | None = None) -> None:
        self.predictor = predictor
        self.metrics = metrics

    def __call__(self, batch: Sequence[RawEvent]) -> list[Output]:
        """Predict a batch; see the class docstring for the outputs."""
        t0 = time.perf_counter()
        outcome = self.predictor.process_many(
            [(ev.value, Source(ev.topic, ev.partition, ev.offset)) for ev in batch]
        )
        m = self.metrics
        if m is not None and batch:
            per_event = (time.perf_counter() - t0) / len(batch)
            m.events_processed.inc(len(batch))
            m.predictions.labels("stream").inc(len(outcome.predictions))
            hist = m.prediction_seconds.labels("stream")
            for _ in outcome.predictions:
                hist.observe(per_event)
            for d in outcome.dlq:
                m.dlq.labels(d.reason).inc()
            m.sync_predictor(self.predictor)
        outputs = [
            Output("predictions", rec.event_id.encode("utf-8"), rec.to_dict())
            for rec in outcome.predictions
        ]
        for dlq in outcome.dlq:
            src = dlq.source
            key = None if src is None else f"{src.topic}:{src.partition}:{src.offset}".encode()
            outputs.append(Output("dlq", key, {**dlq.to_dict(), "service": "predictor"}))
        return outputs


class PredictorService:
    """Run the predictor: the ``models`` follower, the events reader and the HTTP server.

    Parameters
    ----------
    settings : StreamSettings
        Brokers, prefix, batching, and the ``predictor_*`` settings.
    predictor : Predictor, optional
        Built from the settings by default (``predictor_model`` is then required).
    metrics : Metrics, optional
        Served at ``GET /metrics``; a new bundle by default when ``metrics_enabled``
        (no ``/metrics`` route otherwise).

    Attributes
    ----------
    http_address : tuple of (str, int) or None
        Where the HTTP server listens, once started.
    model_batches_ : int
        Polls of ``models`` handed to the predictor.
    """

    def __init__(
        self,
        settings: StreamSettings,
        predictor: Predictor | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        if predictor is None:
            if settings.predictor_model is None:
                raise StartupError(
                    "no model to serve: set STREAMLABEL_PREDICTOR_MODEL (or --model) to the "
                    "model's name, its key on the models topic"
                )
            predictor = Predictor(
                settings.predictor_model,
                shadow=settings.predictor_shadow,
                max_event_bytes=settings.max_event_bytes,
            )
        self.settings = settings
        self.predictor = predictor
        if metrics is None and settings.metrics_enabled:
            metrics = Metrics()
        self.metrics = metrics
        self.handler = PredictorHandler(predictor, metrics)
        self.http_address: tuple[str, int] | None = None
        self.model_batches_ = 0
        self.reader: Any = None
        self._first_model = asyncio.Event()
        self._http_ready = asyncio.Event()
        # One thread: records are verified in log order, one at a time.
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="streamlabel-models")

    # ------------------------------------------------------------------ http
    def _web_app(self) -> Any:
        from aiohttp import web

        predictor = self.predictor
        limit = predictor.max_event_bytes * predictor.max_request_events + 1024
        metrics = self.metrics

        async def predict(request: web.Request) -> web.Response:
            t0 = time.perf_counter()
            body = await request.read()
            # Scored on the loop: one read of the served reference, lock-free; a swap
            # running in the model thread meanwhile does not affect this request.
            status, out = predictor.answer(body)
            if metrics is not None:
                if status == 200:
                    metrics.predictions.labels("http").inc(len(out["predictions"]))
                metrics.prediction_seconds.labels("http").observe(time.perf_counter() - t0)
            return web.json_response(out, status=status)

        async def metrics_page(request: web.Request) -> web.Response:
            assert metrics is not None
            metrics.sync_predictor(predictor)
            return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE})

        async def healthz(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        async def readyz(request: web.Request) -> web.Response:
            if predictor.ready:
                return web.json_response({"ready": True, "version": predictor.version})
            return web.json_response(
                {"ready": False, "reason": f"no version of {predictor.model!r} served yet"},
                status=503,
            )

        async def model(request: web.Request) -> web.Response:
            status = predictor.status()
            reader = self.reader
            status["events"] = {
                "reading": reader is not None,
                "batches": 0 if reader is None else reader.batches_,
                "records": 0 if reader is None else reader.records_,
            }
            return web.json_response(status)

        app = web.Application(client_max_size=limit)
        app.router.add_post("/predict", predict)
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/model", model)
        if metrics is not None:
            app.router.add_get("/metrics", metrics_page)
        return app

    async def wait_http(self) -> tuple[str, int]:
        """Wait until the HTTP server listens; return its address."""
        await self._http_ready.wait()
        assert self.http_address is not None
        return self.http_address

    # ------------------------------------------------------------------ models
    async def _follow_models(self) -> None:
        from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]

        s = self.settings
        name = s.topic("models")
        consumer = AIOKafkaConsumer(
            bootstrap_servers=s.bootstrap_servers,
            client_id=f"{s.predictor_group_id}-models",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # Artifacts are inline: a record may exceed the default 1 MiB per partition.
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )
        await consumer.start()
        loop = asyncio.get_running_loop()
        try:
            parts: dict[int, int] | None = None
            while not parts:  # the topic may be created after we start: wait for it
                parts = await loop.run_in_executor(
                    None,
                    functools.partial(
                        end_offsets, s, "models", timeout=10.0, client_id=f"{name}-partitions"
                    ),
                )
                if not parts:
                    await asyncio.sleep(0.5)
            tps = [TopicPartition(name, p) for p in sorted(parts)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            logger.info("following %s from the beginning", name)
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                records = [
                    (rec.key, rec.value)
                    for tp in sorted(batches, key=lambda t: t.partition)
                    for rec in batches[tp]
                ]
                if not records:
                    continue
                self.model_batches_ += 1
                outcomes = await loop.run_in_executor(
                    self._executor, self.predictor.offer_models, records
                )
                if self.metrics is not None:
                    self.metrics.sync_predictor(self.predictor)
                for out in outcomes:
                    if out.action in ("swapped", "shadowing", "cleared"):
                        logger.warning(
                            "streamlabel predictor model %s %s: %s",
                            out.key,
                            out.version,
                            out.action,
                        )
                if self.predictor.ready:
                    self._first_model.set()
        finally:
            await consumer.stop()

    # ------------------------------------------------------------------ run
    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set (or a part fails, which is raised).

        Raises
        ------
        StartupError
            No model arrived within ``predictor_model_wait`` seconds (when not 0).
        """
        from aiohttp import web

        from streamlabel.stream._reader import BatchedReader

        s = self.settings
        started = time.monotonic()
        runner = web.AppRunner(self._web_app(), access_log=None)
        await runner.setup()
        follower: asyncio.Task[None] | None = None
        reading: asyncio.Task[None] | None = None
        try:
            site = web.TCPSite(runner, s.predictor_host, s.predictor_port)
            await site.start()
            host, port = runner.addresses[0][:2]
            self.http_address = (str(host), int(port))
            self._http_ready.set()
            logger.warning("streamlabel predictor http on %s:%d", host, port)
            follower = asyncio.create_task(self._follow_models(), name="follow_models")
            waiters = {
                asyncio.create_task(self._first_model.wait()),
                asyncio.create_task(stop.wait()),
            }
            try:
                done, _ = await asyncio.wait(
                    [*waiters, follower],
                    timeout=s.predictor_model_wait or None,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                for w in waiters:
                    w.cancel()
            if follower in done:
                follower.result()  # raises why it ended
                raise RuntimeError("the models follower ended unexpectedly")
            if stop.is_set():
                return
            if not done:
                raise StartupError(
                    f"no valid model {self.predictor.model!r} on {s.topic('models')} within "
                    f"{s.predictor_model_wait:g} s (see the log for refused records)"
                )
            self.reader = reader = BatchedReader(
                s,
                self.handler,
                started=started,
                group_id=s.predictor_group_id,
                metrics=self.metrics,
            )
            await reader.start()
            reading = asyncio.create_task(reader.run(), name="read_events")
            logger.warning(
                "streamlabel predictor ready in %.2f s: model %r version %s",
                time.monotonic() - started,
                self.predictor.model,
                self.predictor.version,
            )
            stopping = asyncio.create_task(stop.wait())
            try:
                done, _ = await asyncio.wait(
                    [stopping, follower, reading], return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                stopping.cancel()
            for task in (follower, reading):
                if task in done:
                    task.result()  # a part that ended on its own failed: raise why
                    raise RuntimeError(f"{task.get_name()} ended unexpectedly")
        finally:
            if self.reader is not None:
                if reading is not None:
                    self.reader.request_stop()  # the batch in progress is delivered, committed
                    try:
                        await asyncio.wait_for(asyncio.shield(reading), _STOP_TIMEOUT_S)
                    except (Exception, asyncio.CancelledError):
                        # Already raised above if it is why we stop; the clients still close.
                        logger.exception("the events reader failed while stopping")
                await self.reader.close()
            if follower is not None:
                follower.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await follower
            await runner.cleanup()
            self._executor.shutdown(wait=True, cancel_futures=True)


def serve_predictor(
    settings: StreamSettings, *, loglevel: str = "warning", create_topics: bool = True
) -> None:
    """Run a :class:`PredictorService` until SIGTERM or SIGINT, then exit (status 0).

    Raises
    ------
    StartupError
        No model name configured, or no model within ``predictor_model_wait``.
    """
    configure_service_logging(loglevel)
    service = PredictorService(settings)  # refuses a missing model name before any I/O
    if create_topics:
        created = ensure_topics(settings)
        if created:
            logger.warning("created topics %s", ", ".join(created))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await service.run(stop)

    asyncio.run(main())
    sys.exit(0)
