"""Reading CSV from stored chunks: any chunk size gives the same records, and files that are not CSV
text fail with a message that says why and where."""

from __future__ import annotations

import csv
import io

import pytest

from backend.imports.csvstream import FileProblem, records, sniff_delimiter

ROWS = [
    ["phone", "name", "note"],
    ["+351912345678", "Zoë", "plain"],
    ["+351912345679", "a,b", 'quoted "quote"'],
    ["+351912345680", "João 💬", "multi\nline\r\ncell"],
    [],
    ["+351912345681", "\u2028inside", ""],
]


def _encoded(rows, *, bom=True, newline="\r\n") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=newline).writerows(rows)
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode()


async def _read(data: bytes, size: int) -> list[list[str]]:
    async def chunks():
        for start in range(0, len(data), size):
            yield data[start : start + size]

    return [record async for record in records(chunks())]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, 1 << 20])
@pytest.mark.parametrize("newline", ["\r\n", "\n"])
async def test_every_chunk_size_reads_the_same_records(size, newline):
    assert await _read(_encoded(ROWS, newline=newline), size) == ROWS


async def test_a_file_without_a_final_newline_keeps_its_last_row():
    assert await _read(b"a,b\n1,2", 3) == [["a", "b"], ["1", "2"]]


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [("a,b,c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ('"x;y",b', ","), ("single", ",")],
)
def test_the_delimiter_is_read_from_the_header(header, delimiter):
    assert sniff_delimiter(header) == delimiter


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"name\n\xff\xfe\n", "not UTF-8"),
        (b"name\nZo\xc3", "ends inside a character"),
        (b'a,b\n1,"open\n' + b"x\n" * 600_000, "never closed"),
        (b"a,b\n" + b"x" * (1 << 21), "longer than 1 MiB"),
    ],
)
async def test_unreadable_files_say_why(data, message):
    with pytest.raises(FileProblem, match=message):
        await _read(data, 4096)
