"""The UCI YouTube Spam Collection as a comment stream in date order, and its LF set.

The raw UCI CSVs (``youtube/uci_raw/Youtube0{1..5}-*.csv``, columns ``COMMENT_ID``,
``AUTHOR``, ``DATE``, ``CONTENT``, ``CLASS``; 1 = spam) are read in place. Videos 1-4 (Psy,
Katy Perry, LMFAO, Eminem: 1,586 comments, the Snorkel tutorial's and WRENCH's train
split) become one stream of events in date order across videos, shaped as the labeler
reads them::

    {"id": "z13jhp0bxqncu512g22wvzkasxmvvzjaz04", "ts": 1383985723.0, "entity": "Psy",
     "payload": {"text": "me shaking my sexy ass on my channel enjoy ^_^ ", "author":
                 "ElNino Melendez", "date": "2013-11-09T08:28:43"}}

The class is kept beside the events (``LabeledStream.y``), never inside them. Video 5
(Shakira) never enters the stream: its 250-row test split comes from the WRENCH folder
(``youtube/wrench/test.json``, :func:`load_youtube_test`), as in the published figures.

Rows without a date
-------------------
245 Eminem rows have no ``DATE`` (every one of them is spam, every dated Eminem row is
ham: a collection artefact). Dropping them would remove Eminem's spam; putting them at
either end of the stream would invent a burst. They keep their place in the file instead:
an undated row takes the time of the nearest dated row above it in its file (below it for
the rows at the top), and ties in time follow the file (backwards in a newest-first file,
as LMFAO's and Eminem's are), so the row lands between its two file neighbours. The
event's ``ts`` is that inherited time; its ``payload["date"]`` stays ``None``, as in the
file, so nothing reads a date that the data does not have. LFs and the end model never
read the date (its absence would give the class away on Eminem).

Duplicate comment ids
---------------------
Two Eminem comments appear twice (same id, same text): both rows are kept, as in the
published train split, and the second gets the id suffix ``~2`` (event ids are unique).
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from streamlabel.datasets._streams import DriftPhase, LabeledStream, _load_packaged_lfsets
from streamlabel.datasets._wrench import SHARED_DATA_ENV, WrenchSplit, load_wrench, shared_data_dir

if TYPE_CHECKING:
    from streamlabel.lf import LFSet

__all__ = [
    "YOUTUBE_STREAM_VIDEOS",
    "YOUTUBE_TEST_VIDEO",
    "YoutubeLeakage",
    "check_youtube_leakage",
    "load_youtube_stream",
    "load_youtube_test",
    "youtube_data_dir",
    "youtube_lfsets",
]

#: The UCI files streamed, in video order (entity = the part after the dash).
YOUTUBE_STREAM_VIDEOS = (
    "Youtube01-Psy",
    "Youtube02-KatyPerry",
    "Youtube03-LMFAO",
    "Youtube04-Eminem",
)
#: The held-out video: its comments are the valid/test splits and never enter the stream.
YOUTUBE_TEST_VIDEO = "Youtube05-Shakira"

_COLUMNS = ("COMMENT_ID", "AUTHOR", "DATE", "CONTENT", "CLASS")
_LFSET_FILES = ("youtube_v1.yaml",)


def youtube_data_dir(dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the YouTube data folder (holding ``uci_raw/`` and ``wrench/``).

    Parameters
    ----------
    dir : str or path-like, optional
        The folder; default ``youtube/`` in :func:`shared_data_dir`.

    Raises
    ------
    FileNotFoundError
        When the folder (or the shared data folder) does not exist.

    Examples
    --------
    >>> import tempfile
    >>> youtube_data_dir(tempfile.gettempdir()).is_dir()
    True
    """
    if dir is None:
        base = shared_data_dir()
        if base is None:
            raise FileNotFoundError(
                "shared data folder not found: expected ../shared/data beside the repository "
                f"(holding youtube/uci_raw and youtube/wrench), or set {SHARED_DATA_ENV}"
            )
        dir = base / "youtube"
    folder = Path(dir)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"YouTube data folder not found: {folder} (expected a folder holding uci_raw/ "
            f"and wrench/, e.g. ../shared/data/youtube beside the repo)"
        )
    return folder


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        present = sorted(p.name for p in path.parent.glob("*.csv")) if path.parent.is_dir() else []
        raise FileNotFoundError(
            f"UCI YouTube file not found: {path} (CSV files present: {present or 'none'})"
        )
    # utf-8-sig: a byte-order mark must not end up in the first column's name.
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise ValueError(f"{path}: missing columns {missing}")
        return list(reader)


def _epoch(date: str) -> float:
    # The files mix "2013-11-07T06:20:48" and "2015-05-28T21:39:52.376000"; both are UTC.
    return datetime.fromisoformat(date).replace(tzinfo=UTC).timestamp()


def _quarter(ts: float) -> str:
    d = datetime.fromtimestamp(ts, tz=UTC)
    return f"{d.year}Q{(d.month - 1) // 3 + 1}"


def load_youtube_stream(dir: str | os.PathLike[str] | None = None) -> LabeledStream:
    """Load videos 1-4 of the UCI YouTube Spam Collection as one stream in date order.

    Parameters
    ----------
    dir : str or path-like, optional
        The YouTube data folder (holding ``uci_raw/``); default ``youtube/`` in
        :func:`shared_data_dir`.

    Returns
    -------
    LabeledStream
        ``name="youtube"``; events ``{"id", "ts", "entity", "payload"}`` with the video as
        entity (``"Psy"``, ``"KatyPerry"``, ``"LMFAO"``, ``"Eminem"``) and payload
        ``{"text", "author", "date"}`` (``date`` None where the file has none); ``y`` and
        ``kind`` 0 ham, 1 spam; one phase per calendar quarter holding comments, named
        like ``"2014Q3"``, its description counting the comments of each video.

    Raises
    ------
    FileNotFoundError
        When the folder or one of the four CSVs is absent.

    Examples
    --------
    A folder of four tiny files, one ham and one undated spam comment per video:

    >>> import csv, shutil, tempfile
    >>> from pathlib import Path
    >>> d = Path(tempfile.mkdtemp())
    >>> (d / "uci_raw").mkdir()
    >>> for k, stem in enumerate(YOUTUBE_STREAM_VIDEOS):
    ...     with open(d / "uci_raw" / f"{stem}.csv", "w", newline="", encoding="utf-8") as fh:
    ...         w = csv.writer(fh)
    ...         _ = w.writerow(["COMMENT_ID", "AUTHOR", "DATE", "CONTENT", "CLASS"])
    ...         _ = w.writerow([f"h{k}", "ann", f"2014-0{4 - k}-02T10:00:00", "nice song", 0])
    ...         _ = w.writerow([f"s{k}", "bob", "", "check out my channel", 1])
    >>> s = load_youtube_stream(d)
    >>> [e["id"] for e in s.events], s.y.tolist()
    (['h3', 's3', 'h2', 's2', 'h1', 's1', 'h0', 's0'], [0, 1, 0, 1, 0, 1, 0, 1])
    >>> s.events[1]["entity"], s.events[1]["payload"]
    ('Eminem', {'text': 'check out my channel', 'author': 'bob', 'date': None})
    >>> [p.name for p in s.phases]
    ['2014Q1', '2014Q2']
    >>> shutil.rmtree(d)
    """
    raw = youtube_data_dir(dir) / "uci_raw"
    rows: list[tuple[float, int, int, dict[str, Any], int]] = []
    seen: dict[str, int] = {}
    for v, stem in enumerate(YOUTUBE_STREAM_VIDEOS):
        table = _read_csv(raw / f"{stem}.csv")
        dates = [r["DATE"].strip() or None for r in table]
        times = [None if d is None else _epoch(d) for d in dates]
        # An undated row inherits the nearest dated time above it in the file (below it
        # at the top): it keeps its place among its neighbours (module docstring).
        dated = [t for t in times if t is not None]
        if not dated:
            raise ValueError(f"{raw / stem}.csv: no row has a DATE")
        last: float = dated[0]
        # Ties in time follow the file: forwards in an oldest-first file, backwards in a
        # newest-first one, so an undated row lands between its two file neighbours.
        direction = -1 if dated[0] > dated[-1] else 1
        entity = stem.split("-", 1)[1]
        for pos, (r, date, t) in enumerate(zip(table, dates, times, strict=True)):
            last = t if t is not None else last
            label = int(r["CLASS"])
            if label not in (0, 1):
                raise ValueError(f"{raw / stem}.csv row {pos}: CLASS must be 0 or 1")
            cid = r["COMMENT_ID"].strip()
            seen[cid] = seen.get(cid, 0) + 1
            eid = cid if seen[cid] == 1 else f"{cid}~{seen[cid]}"
            event = {
                "id": eid,
                "ts": last,
                "entity": entity,
                "payload": {"text": r["CONTENT"], "author": r["AUTHOR"], "date": date},
            }
            rows.append((last, v, direction * pos, event, label))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    events = [r[3] for r in rows]
    y = np.array([r[4] for r in rows], dtype=np.int64)
    quarters = [_quarter(r[0]) for r in rows]
    phases: list[DriftPhase] = []
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or quarters[i] != quarters[start]:
            counts = {e: 0 for e in (s.split("-", 1)[1] for s in YOUTUBE_STREAM_VIDEOS)}
            for e in events[start:i]:
                counts[e["entity"]] += 1
            desc = ", ".join(f"{k} {c}" for k, c in counts.items() if c)
            phases.append(DriftPhase(quarters[start], start, i, f"comments: {desc}"))
            start = i
    return LabeledStream(
        name="youtube",
        events=events,
        y=y,
        kind=y.copy(),
        kind_names=("ham", "spam"),
        phases=tuple(phases),
        label_names=("ham", "spam"),
    )


def load_youtube_test(dir: str | os.PathLike[str] | None = None) -> WrenchSplit:
    """Load the 250-row Shakira test split of WRENCH's YouTube (``wrench/test.json``).

    The published figures (Snorkel tutorial end model 94.4, WRENCH MV→LR 90.72, gold→LR
    94.24) are accuracies on these rows.

    Parameters
    ----------
    dir : str or path-like, optional
        The YouTube data folder (holding ``wrench/``); default ``youtube/`` in
        :func:`shared_data_dir`.

    Examples
    --------
    >>> from streamlabel.datasets import shared_data_dir
    >>> t = load_youtube_test() if shared_data_dir() is not None else None  # the shared data
    >>> t is None or (len(t), int(t.y.sum())) == (250, 118)
    True
    """
    return load_wrench(youtube_data_dir(dir) / "wrench", "test", name="youtube")


@dataclass(frozen=True)
class YoutubeLeakage:
    """What the test split shares with the stream (see :func:`check_youtube_leakage`).

    Attributes
    ----------
    test_rows_from_test_video : int
        Test rows whose text is a comment of the held-out video's CSV (all, if the split
        is what it claims).
    test_video_ids_in_stream : int
        Comment ids of the held-out video found in the stream (must be 0).
    test_video_rows_in_stream : int
        Stream events whose entity is the held-out video (must be 0).
    shared_texts : int
        Test rows whose exact text also occurs in the stream: not leakage of a comment,
        but template spam (``"Check out this video on YouTube:"``) posted on several
        videos, which the published split has too.
    """

    test_rows_from_test_video: int
    test_video_ids_in_stream: int
    test_video_rows_in_stream: int
    shared_texts: int

    @property
    def clean(self) -> bool:
        """True when no comment of the held-out video is in the stream."""
        return self.test_video_ids_in_stream == 0 and self.test_video_rows_in_stream == 0


def check_youtube_leakage(
    stream: LabeledStream, test: WrenchSplit, dir: str | os.PathLike[str] | None = None
) -> YoutubeLeakage:
    """Check that no comment of the held-out video (Shakira) is in the stream.

    Examples
    --------
    >>> from streamlabel.datasets import shared_data_dir
    >>> if shared_data_dir() is not None:  # the shared data
    ...     leak = check_youtube_leakage(load_youtube_stream(), load_youtube_test())
    ...     assert leak.clean and leak.test_rows_from_test_video == 250
    """
    table = _read_csv(youtube_data_dir(dir) / "uci_raw" / f"{YOUTUBE_TEST_VIDEO}.csv")
    held_ids = {r["COMMENT_ID"].strip() for r in table}
    held_texts = {r["CONTENT"] for r in table}
    stream_texts = {e["payload"]["text"] for e in stream.events}
    entity = YOUTUBE_TEST_VIDEO.split("-", 1)[1]
    texts = test.texts or []
    return YoutubeLeakage(
        test_rows_from_test_video=sum(t in held_texts for t in texts),
        test_video_ids_in_stream=sum(e["id"].split("~")[0] in held_ids for e in stream.events),
        test_video_rows_in_stream=sum(e["entity"] == entity for e in stream.events),
        shared_texts=sum(t in stream_texts for t in texts),
    )


def youtube_lfsets() -> list[LFSet]:
    """Load the shipped versions of the ``youtube-spam`` LF set (raw comment text).

    Returns
    -------
    list of LFSet
        Set version ``"1"``.

    Examples
    --------
    >>> sets = youtube_lfsets()
    >>> sets[0].name, sets[0].cardinality
    ('youtube-spam', 2)
    """
    return _load_packaged_lfsets(_LFSET_FILES)
