"""Reading CSV from stored chunks: any chunk size gives the same records, and files that are not CSV
text fail with a message that says why and where."""

from __future__ import annotations

import csv
import io

import pytest

from backend.imports.csvstream import FileProblem, UnclosedQuote, records, sniff_delimiter, stray_quote

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
        (b'a,"b\n1,"open\n' + b"x\n" * 600_000, "the header: a quoted cell opens on line 1"),
        (b"a,b\n" + b"x" * (1 << 21), "longer than 1 MiB"),
    ],
)
async def test_unreadable_files_say_why(data, message):
    with pytest.raises(FileProblem, match=message):
        await _read(data, 4096)


@pytest.mark.parametrize("size", [1, 4, 4096])
@pytest.mark.parametrize(
    ("data", "expected"),
    [
        # Open to the end of the file: the row where it opened is reported, the lines after it are rows.
        (b'a,b\n1,"open\n2,x\n3,y\n', [UnclosedQuote(1, 2), ["2", "x"], ["3", "y"]]),
        # Closed by a later row's opening quote (followed by a letter, which a sound file never has).
        (b'a,b\n1,"open\n2,x\n3,"y",z\n', [UnclosedQuote(1, 2), ["2", "x"], ["3", "y", "z"]]),
        # Line numbers count the lines of earlier multi-line cells; the last line has no newline.
        (
            b'a,b\n"ok\nmulti",1\n"x ""q"" y",2\n3,"open',
            [["ok\nmulti", "1"], ['x "q" y', "2"], UnclosedQuote(1, 5)],
        ),
        (b'a;b\n1;2\n"x;y\n', [["1", "2"], UnclosedQuote(0, 3)]),
        # A sound quoted cell across lines, and a quote inside an unquoted cell, are no errors.
        (b'a,b\n1,"line\nbreak"\n2,say "hi"\n', [["1", "line\nbreak"], ["2", 'say "hi"']]),
    ],
)
async def test_an_unclosed_quote_is_the_error_of_the_row_where_it_opened(data, expected, size):
    assert (await _read(data, size))[1:] == expected


@pytest.mark.parametrize("filler", [b"x\n" * 600_000, (b"y" * 1000 + b"\n") * 1200])
async def test_an_unclosed_quote_in_a_long_file_leaves_the_rest_readable(filler):
    """Past the cell limit (128 KiB) or the record limit (1 MiB) the reader stops looking for the close."""
    read = await _read(b'a,b\n1,"open\n' + filler + b"2,last\n", 65536)
    assert read[1] == UnclosedQuote(1, 2)
    assert read[-1] == ["2", "last"] and len(read) == 3 + filler.count(b"\n")


def test_stray_quote_names_the_line_and_cell():
    assert stray_quote(['1,2,"open\n', "more\n"], ",") == (0, 2)
    assert stray_quote(["1,2\n", '"x", "y"\n'], ",") is None  # a space after a delimiter: csv's own rules
    assert stray_quote(['1,"a\n', 'b""c"\n'], ",") is None
    assert stray_quote(['1,"a\n', 'b" ,2\n'], ",") is None  # spaces after the closing quote are tolerated
    assert stray_quote(['1,"a\n', 'b" "x\n'], ",") == (0, 1)
