"""Reading a stored upload as CSV records without ever holding the file: chunk by chunk from the
database, UTF-8 decoded incrementally (a byte-order mark is dropped), parsed by :mod:`csv`.

``csv.reader`` wants a synchronous iterator of lines, but the next chunk comes from an ``await``. The
:class:`_Feeder` bridges the two: when it runs out of lines in the middle of a record (a quoted cell
spanning a chunk boundary) it raises :class:`_NeedMore`; the reader restarts every record from a clean
state, so after the next chunk arrives the record's lines are simply fed again from its first line.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import AsyncIterator

from backend.imports.tables import ImportChunk

MAX_RECORD_CHARS = 1024 * 1024
"""A record (one row, quoted line breaks included) longer than this is refused: usually a quote that is
never closed, which would otherwise swallow the rest of the file."""
DELIMITERS = (",", ";", "\t")


class FileProblem(Exception):
    """The file cannot be read as CSV at all (not UTF-8, an unclosed quote, …): the import fails."""


class _NeedMore(Exception):
    pass


class _Feeder:
    """The lines ``csv.reader`` reads; ``mark`` is where the record being parsed started."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.pos = 0
        self.mark = 0
        self.finished = False

    def __iter__(self) -> _Feeder:
        return self

    def __next__(self) -> str:
        if self.pos < len(self.lines):
            line = self.lines[self.pos]
            self.pos += 1
            return line
        if self.finished:
            raise StopIteration
        raise _NeedMore

    def pending_chars(self) -> int:
        return sum(len(line) for line in self.lines[self.mark :])

    def add(self, lines: list[str]) -> None:
        """Append lines, first dropping those of records already parsed."""
        if self.mark:
            del self.lines[: self.mark]
            self.pos -= self.mark
            self.mark = 0
        self.lines.extend(lines)


async def stored_chunks(import_id: int) -> AsyncIterator[bytes]:
    """The upload's pieces in order, one query (and at most 1 MiB in memory) at a time."""
    seq = 0
    while True:
        row = (
            await ImportChunk.select(ImportChunk.data)
            .where((ImportChunk.upload == import_id) & (ImportChunk.seq == seq))
            .first()
        )
        if row is None:
            return
        yield bytes(row["data"])
        seq += 1


async def decoded_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[str]]:
    """Lists of complete lines (each ending in ``\\n``, the last one possibly not), chunk by chunk.

    Only ``\\n`` splits lines here: ``str.splitlines`` would also split on characters such as U+2028
    that the csv module keeps inside a cell. A ``\\r\\n`` pair stays whole because the split is after
    the ``\\n``.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    offset = 0
    pending = ""
    async for chunk in chunks:
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise FileProblem(
                f"the file is not UTF-8 text (invalid byte near byte {offset + exc.start}); "
                "save it as CSV UTF-8"
            ) from None
        offset += len(chunk)
        if not text:
            continue
        parts = (pending + text).split("\n")
        pending = parts.pop()
        if len(pending) > MAX_RECORD_CHARS:
            raise FileProblem("a line is longer than 1 MiB; is this a CSV file?")
        if parts:
            yield [part + "\n" for part in parts]
    try:
        pending += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise FileProblem("the file is not UTF-8 text (it ends inside a character)") from None
    if pending:
        yield [pending]


def sniff_delimiter(header_line: str) -> str:
    """Comma unless the header line has more semicolons or tabs (spreadsheets in many locales
    export ``;``-separated files). Cells inside quotes are ignored."""
    outside = header_line.split('"')[::2]
    counts = {delimiter: sum(part.count(delimiter) for part in outside) for delimiter in DELIMITERS}
    best = max(DELIMITERS, key=lambda delimiter: counts[delimiter])
    return best if counts[best] > counts[","] else ","


def _where(record_number: int) -> str:
    """Record 0 is the header; record 1 is data row 1."""
    return "the header" if record_number == 0 else f"row {record_number}"


async def records(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[str]]:
    """Every CSV record of the file in order, the header first; blank lines come out as ``[]``."""
    feeder = _Feeder()
    batches = decoded_lines(chunks)
    reader = None
    record_number = 0
    while True:
        if reader is None:
            first = await anext(batches, None)
            if first is None:
                return
            feeder.add(first)
            reader = csv.reader(feeder, delimiter=sniff_delimiter(first[0]), strict=False)
        feeder.mark = feeder.pos
        try:
            record = next(reader)
        except _NeedMore:
            feeder.pos = feeder.mark
            if feeder.pending_chars() > MAX_RECORD_CHARS:
                raise FileProblem(
                    f"{_where(record_number)}: a quoted cell is never closed (or the row is longer than 1 MiB)"
                ) from None
            more = await anext(batches, None)
            if more is None:
                feeder.finished = True
            else:
                feeder.add(more)
            continue
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" in str(exc):
                raise FileProblem(
                    f"{_where(record_number)}: a cell is longer than {csv.field_size_limit() // 1024} KiB; "
                    "is a quote never closed?"
                ) from None
            raise FileProblem(f"{_where(record_number)}: {exc}") from None
        yield record
        record_number += 1
