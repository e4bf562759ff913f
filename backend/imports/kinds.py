"""The plug-in point for CSV imports: each kind of row (contacts, opt-outs, …) is one :class:`ImportKind`.

The generic runner (:mod:`backend.imports.runner`) owns everything that is the same for every kind:
streaming the stored upload, UTF-8 and CSV decoding, header normalisation, batching, transactions,
progress, per-row error bookkeeping, retries and resuming after a crash. A kind only says which
columns it wants and how to validate and apply a batch of rows.

Writing a kind::

    class OptOutsImport(ImportKind):
        name = "optouts"
        required_columns = frozenset({"channel", "address"})
        known_columns = frozenset({"channel", "address", "category", "valid_until", "remarks", "sender"})

        async def prepare(self, job):          # once per run: settings, lookups, option checks
            job.state["region"] = ...

        async def validate(self, job, rows):   # no writes: parse each Row into a record or RowErrors
            ...
            return records, errors

        async def apply(self, job, records):   # inside the runner's transaction: write, count
            ...
            return Applied(created=..., updated=..., errors=[...])

    register_kind(OptOutsImport())

Register at import time of a module that both the api and the worker import (the worker imports
every domain's ``tasks`` module, so importing the kind's module from there is enough).

Contract, so that the runner's guarantees hold:

* ``validate`` must not write. In ``reject`` mode it runs over the whole file before anything is
  applied, and again (batch by batch) right before ``apply``.
* ``apply`` runs inside a transaction the runner opened (one per batch in ``skip`` mode, one for the
  whole file in ``reject`` mode) and must do all its writes there, so a batch and its progress
  checkpoint commit together. It may raise a unique violation when a concurrent writer took an
  address first: the runner rolls the batch back and runs ``validate`` + ``apply`` again.
* ``apply`` must be idempotent in effect (e.g. de-duplicate by address): after a crash, the batch
  that was in flight is rolled back and applied again.
* Counts: ``created + updated`` are the rows applied; every other row of the batch counts as skipped.
"""

from __future__ import annotations

import re
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from backend.core.errors import FlowgateError


@dataclass(frozen=True, slots=True)
class Row:
    """One data row of the file: ``number`` 1 is the first row after the header."""

    number: int
    values: Mapping[str, str]
    """Cell text by normalised column name; cells missing at the end of a short row are ``""``."""


@dataclass(frozen=True, slots=True)
class RowError:
    """Why a row (or one of its cells) was not imported; ``column`` is None for the whole row."""

    row: int
    column: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass(slots=True)
class Applied:
    """What ``apply`` did with a batch: rows that created or updated something, and rows refused."""

    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    after_commit: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    """Called once the batch's transaction committed (in reject mode: the file's), e.g. to enqueue
    webhook deliveries the batch wrote. Never called for writes that were rolled back; an error in
    one is logged, not raised (the writes are committed; sweepers catch up)."""


@dataclass(slots=True)
class ImportJob:
    """What a kind knows about the import it is working on."""

    id: int
    workspace_id: int
    kind: str
    options: dict[str, Any]
    """As stored by :func:`backend.imports.uploads.store_upload` (``on_error`` plus the kind's own)."""
    created_by: str
    """Who uploaded the file (for audit trails and ``actor`` fields)."""
    queue: Any = None
    """The arq pool of the worker running the import (None when run without one), for ``after_commit``."""
    columns: list[str] = field(default_factory=list)
    """The file's normalised header, in order (set before ``prepare``)."""
    state: dict[str, Any] = field(default_factory=dict)
    """Scratch space for ``prepare`` to hand settings and lookups to ``validate`` and ``apply``."""


class HeaderProblem(FlowgateError):
    """Raised by ``prepare`` when the file or the options cannot be imported at all; fails the import
    with this message before anything is applied."""


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def snake_case(raw: str) -> str:
    """``"First Name"``, ``"firstName"`` and ``"FIRST-NAME"`` all become ``first_name``; accents are
    dropped (``"Prénom"`` → ``prenom``); a leading digit gets an underscore (``"2fa"`` → ``_2fa``)."""
    text = unicodedata.normalize("NFKD", raw.strip())
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = _CAMEL.sub("_", text).lower()
    text = _NOT_WORD.sub("_", text).strip("_")
    if text and text[0].isdigit():
        text = "_" + text
    return text


class ImportKind(ABC):
    """One kind of CSV import. Subclass, set the class attributes, implement ``validate`` and ``apply``."""

    name: ClassVar[str]
    """The ``kind`` stored on the import (``contacts``, ``optouts``)."""
    required_columns: ClassVar[frozenset[str]] = frozenset()
    """Normalised names that must be in the header."""
    known_columns: ClassVar[frozenset[str] | None] = None
    """Normalised names allowed in the header; None accepts any column (e.g. contact attributes)."""
    batch_size: ClassVar[int] = 500
    """Rows per ``validate``/``apply`` call (and per transaction in ``skip`` mode)."""

    def column_name(self, raw: str) -> str:
        """The normalised name of a header cell; the default is :func:`snake_case`."""
        return snake_case(raw)

    def header_names(self, header: Sequence[str], options: Mapping[str, Any]) -> list[str]:
        """The names of the header's cells for this import; the default is :meth:`column_name` of each.

        A kind whose uploads may say what each column means (a column mapping in ``options``) overrides
        this; raise :class:`HeaderProblem` when the options do not fit the file."""
        return [self.column_name(cell) for cell in header]

    def header_problems(self, columns: Sequence[str], options: Mapping[str, Any]) -> list[str]:
        """Why a header cannot be imported (empty: it can). The runner has already refused empty and
        duplicate names; the default checks ``required_columns`` and ``known_columns``."""
        problems = []
        missing = sorted(self.required_columns - set(columns))
        if missing:
            problems.append(f"missing required column(s): {', '.join(missing)}")
        if self.known_columns is not None:
            unknown = [column for column in columns if column not in self.known_columns]
            if unknown:
                problems.append(
                    f"unknown column(s): {', '.join(unknown)}; expected some of "
                    f"{', '.join(sorted(self.known_columns))}"
                )
        return problems

    async def prepare(self, job: ImportJob) -> None:  # noqa: B027 - optional hook
        """Called once per run after the header passed, before any row: load settings into
        ``job.state``; raise :class:`HeaderProblem` to fail the import with nothing applied."""

    @abstractmethod
    async def validate(self, job: ImportJob, rows: Sequence[Row]) -> tuple[list[Any], list[RowError]]:
        """Parse and check a batch without writing: the records ``apply`` will get, and the errors.

        A row with any error must not produce a record. Records are the kind's own objects; keep
        the row number in them if ``apply`` can still refuse a row."""

    @abstractmethod
    async def apply(self, job: ImportJob, records: list[Any]) -> Applied:
        """Write a batch of valid records inside the runner's transaction; see the module docstring."""


_REGISTRY: dict[str, ImportKind] = {}


def register_kind(kind: ImportKind) -> ImportKind:
    """Make ``kind`` available to uploads and to the worker; registering the same name again replaces it."""
    if not getattr(kind, "name", ""):
        raise ValueError("an ImportKind needs a name")
    _REGISTRY[kind.name] = kind
    return kind


def get_kind(name: str) -> ImportKind | None:
    return _REGISTRY.get(name)


def registered_kinds() -> list[str]:
    return sorted(_REGISTRY)
