"""An in-process, partitioned event log: the demo's stand-in for the ``events`` topic."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

__all__ = ["EventLog", "LogRecord"]


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One record read from the log.

    Attributes
    ----------
    partition, offset : int
        Where it sits in the log.
    key : str
        The partitioning key (the entity).
    value : bytes
        The message value.
    tag : int
        The producer's tag (the demo stores the stream index, ``-1`` for injected inputs).
    """

    partition: int
    offset: int
    key: str
    value: bytes
    tag: int


class EventLog:
    """Append-only partitions with one consumer position each, read in append order.

    A key always lands on the same partition (CRC-32 of the key), like Kafka's default
    partitioner keeps one entity's events in order. The consumer reads the records in the
    order they were appended (across partitions), so a replay of the same appends reads
    the same batches whatever the timing; :meth:`lag` is each partition's backlog.

    Parameters
    ----------
    partitions
        Number of partitions (>= 1).

    Examples
    --------
    >>> log = EventLog(partitions=2)
    >>> for i, key in enumerate(["card_1", "card_2", "card_1"]):
    ...     _ = log.append(key, b"{}", tag=i)
    >>> [r.tag for r in log.read(2)], log.lag(), log.backlog
    ([0, 1], [1, 0], 1)
    >>> [r.tag for r in log.read(10)], log.lag()
    ([2], [0, 0])
    """

    def __init__(self, partitions: int = 3) -> None:
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise ValueError(f"partitions must be an int >= 1, got {partitions!r}")
        self.partitions = partitions
        self._records: list[LogRecord] = []
        self._ends = [0] * partitions
        self._positions = [0] * partitions
        self._read = 0

    def partition_of(self, key: str) -> int:
        """Return the partition of ``key``."""
        return zlib.crc32(key.encode("utf-8")) % self.partitions

    def append(self, key: str, value: bytes, *, tag: int = -1) -> LogRecord:
        """Append one record to its key's partition and return it."""
        p = self.partition_of(key)
        rec = LogRecord(p, self._ends[p], key, value, tag)
        self._ends[p] += 1
        self._records.append(rec)
        return rec

    def read(self, max_records: int) -> list[LogRecord]:
        """Read up to ``max_records`` unread records (append order); advance the positions."""
        batch = self._records[self._read : self._read + max(0, max_records)]
        self._read += len(batch)
        for rec in batch:
            self._positions[rec.partition] = rec.offset + 1
        return batch

    def records(self, start: int = 0, stop: int | None = None) -> list[LogRecord]:
        """Return the records appended at positions ``[start, stop)``; never moves a position.

        A replay re-reads history this way, beside the consumer, as ``streamlabel
        replay`` re-reads ``events`` outside the live labeler's consumer group.

        Examples
        --------
        >>> log = EventLog(partitions=2)
        >>> for i in range(4):
        ...     _ = log.append(f"k{i}", b"{}", tag=i)
        >>> [r.tag for r in log.records(1, 3)], log.backlog
        ([1, 2], 4)
        """
        return self._records[start:stop]

    @property
    def appended(self) -> int:
        """Records appended so far."""
        return len(self._records)

    @property
    def backlog(self) -> int:
        """Records appended and not read yet."""
        return len(self._records) - self._read

    def lag(self) -> list[int]:
        """Per partition: records between the consumer's position and the partition's end."""
        return [end - pos for end, pos in zip(self._ends, self._positions, strict=True)]
