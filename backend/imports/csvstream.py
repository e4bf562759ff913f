"""Reading a stored upload as CSV records without ever holding the file: chunk by chunk from the
database, UTF-8 decoded incrementally (a byte-order mark is dropped), parsed by :mod:`csv`.

``csv.reader`` wants a synchronous iterator of lines, but the next chunk comes from an ``await``. The
:class:`_Feeder` bridges the two: when it runs out of lines in the middle of a record (a quoted cell
spanning a chunk boundary) it raises :class:`_NeedMore`; the reader restarts every record from a clean
state, so after the next chunk arrives the record's lines are simply fed again from its first line.

A quote that is never closed would make ``csv`` read every following line into one cell (it does not
complain at the end of the file when ``strict`` is off). :func:`stray_quote` finds such a quote; the
record where it opened comes out as an :class:`UnclosedQuote` (the runner reports it as that row's
error) and reading resumes on the next line, so the rows after it are imported as they are.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from backend.imports.kinds import RowError
from backend.imports.tables import ImportChunk

MAX_RECORD_CHARS = 1024 * 1024
"""A record (one row, quoted line breaks included) longer than this is refused: usually a quote that is
never closed, which would otherwise swallow the rest of the file."""
DELIMITERS = (",", ";", "\t")


class FileProblem(Exception):
    """The file cannot be read as CSV (not UTF-8, an unclosed quote in the header, …): the import fails."""


@dataclass(frozen=True, slots=True)
class UnclosedQuote:
    """What :func:`records` yields instead of a data row whose quoted cell is never closed."""

    cell: int
    """0-based position of the cell the quote opened."""
    line: int
    """1-based line of the file where the quote opened (a row can span lines inside quotes)."""

    def row_error(self, number: int, columns: Sequence[str]) -> RowError:
        column = columns[self.cell] if self.cell < len(columns) else None
        return RowError(
            number,
            column,
            f"a quoted cell opens on line {self.line} of the file and its quote is never closed; "
            "the row was skipped and the lines after it were read as rows of their own",
        )


class _NeedMore(Exception):
    pass


_START, _PLAIN, _QUOTED, _CLOSING, _CLOSED = range(5)


def stray_quote(lines: Sequence[str], delimiter: str) -> tuple[int, int] | None:
    """``(line index, cell index)`` of the quote that opened a cell a sound file never has, else None.

    ``lines`` are one record's lines as ``csv`` read them (same rules: only a quote at the start of a
    cell opens it, ``""`` inside is a quote). A cell is suspect when it is still open at the end, or
    when it spans a line break and is closed by a quote followed by something else than a delimiter
    or the end of the line (spaces allowed): that is another row's opening quote, so the quote before
    it was stray.
    """
    state, cell, opened, spans = _START, 0, (0, 0), False
    for index, line in enumerate(lines):
        for char in line:
            if state == _QUOTED:
                if char == '"':
                    state = _CLOSING
                elif char == "\n":
                    spans = True
            elif state == _CLOSING and char == '"':
                state = _QUOTED
            elif char == delimiter:
                state, cell = _START, cell + 1
            elif char in "\r\n":
                state, cell = _START, 0
            elif state == _START:
                if char == '"':
                    state, opened, spans = _QUOTED, (index, cell), False
                else:
                    state = _PLAIN
            elif char in " \t" and state in (_CLOSING, _CLOSED):
                state = _CLOSED
            elif state in (_CLOSING, _CLOSED):
                if spans:
                    return opened
                state = _PLAIN
    return opened if state == _QUOTED else None


class _Feeder:
    """The lines ``csv.reader`` reads; ``mark`` is where the record being parsed started."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.pos = 0
        self.mark = 0
        self.finished = False
        self.dropped = 0
        """Lines of the file before ``lines[0]`` (for line numbers in messages)."""

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
            self.dropped += self.mark
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


async def records(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[str] | UnclosedQuote]:
    """Every CSV record of the file in order, the header first; blank lines come out as ``[]``, a data
    row whose quote is never closed as an :class:`UnclosedQuote` (in the header: :class:`FileProblem`)."""
    feeder = _Feeder()
    batches = decoded_lines(chunks)
    reader = None
    delimiter = ","
    record_number = 0

    def unclosed(end: int) -> UnclosedQuote | None:
        """The stray quote of the record in ``lines[mark:end]``, if any; reading then resumes on the line
        after the one where it opened."""
        found = stray_quote(feeder.lines[feeder.mark : end], delimiter)
        if found is None:
            return None
        line_index, cell = found
        line = feeder.dropped + feeder.mark + line_index + 1
        if record_number == 0:
            raise FileProblem(f"the header: a quoted cell opens on line {line} and is never closed")
        feeder.pos = feeder.mark + line_index + 1
        return UnclosedQuote(cell, line)

    while True:
        if reader is None:
            first = await anext(batches, None)
            if first is None:
                return
            feeder.add(first)
            delimiter = sniff_delimiter(first[0])
            reader = csv.reader(feeder, delimiter=delimiter, strict=False)
        feeder.mark = feeder.pos
        try:
            record: list[str] | UnclosedQuote = next(reader)
        except _NeedMore:
            feeder.pos = feeder.mark
            if feeder.pending_chars() > MAX_RECORD_CHARS:
                if (broken := unclosed(len(feeder.lines))) is not None:
                    yield broken
                    record_number += 1
                    continue
                raise FileProblem(f"{_where(record_number)}: the row is longer than 1 MiB") from None
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
                if (broken := unclosed(feeder.pos)) is not None:
                    yield broken
                    record_number += 1
                    continue
                raise FileProblem(
                    f"{_where(record_number)}: a cell is longer than {csv.field_size_limit() // 1024} KiB"
                ) from None
            raise FileProblem(f"{_where(record_number)}: {exc}") from None
        # Only a record that spans lines, or the file's last one, can hide a stray quote.
        if feeder.pos - feeder.mark > 1 or feeder.finished:
            record = unclosed(feeder.pos) or record
        yield record
        record_number += 1
