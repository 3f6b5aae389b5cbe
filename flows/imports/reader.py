"""The one tabular reader of every import (F-11.3): CSV (UTF-8, UTF-8 with a byte-order mark, GBK/GB18030 as
Chinese offices save it) and XLSX (the first sheet, values only — never a formula's text).

The header row is the first row that names a known column (a title row, a merged banner or blank rows above it
are passed over); its names are matched through the import's aliases (Chinese and English, case, spaces and
full-width brackets ignored). Cells are trimmed; blank rows skipped; a row keeps its line number in the file for
the report. A required column missing from the header refuses the whole file, naming the column. Nothing here
logs or quotes a cell: the files hold residents' names and phones."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

from flows.errors import FlowError

MAX_BYTES = 5 * 1024 * 1024  # what the bot takes; the command line reads any size
EXTENSIONS = (".csv", ".xlsx", ".xlsm")
HEADER_SEARCH = 10  # rows looked at for the header


class FileRefused(FlowError):
    """The file as a whole cannot be read: `reason` is one of type, size, encoding, empty, damaged,
    missing_column (`column` says which)."""

    code = "file_refused"

    def __init__(self, reason: str, **details: object) -> None:
        super().__init__(reason, reason=reason, **details)
        self.reason = reason


Cell = str | int | float | datetime | date | time | None


@dataclass(frozen=True)
class Row:
    line: int  # as a spreadsheet numbers it (1 is the first line of the file)
    cells: Mapping[str, Cell]  # column key → trimmed text, or the XLSX's number/date

    def text(self, key: str) -> str:
        value = self.cells.get(key)
        if value is None:
            return ""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return str(value).strip()


@dataclass(frozen=True)
class Sheet:
    columns: tuple[str, ...]  # the keys found in the header, in file order
    rows: list[Row]


def _norm(name: str) -> str:
    name = unicodedata.normalize("NFKC", name).strip().lower()  # full-width letters and brackets to plain
    name = re.sub(r"\(.*?\)|\*", "", name)  # "电话(选填)", "楼栋*"
    return re.sub(r"[\s_\-:：]+", "", name)


def alias_map(aliases: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """{key: [names…]} → {normalised name: key}; the key itself is a name too."""
    out: dict[str, str] = {}
    for key, names in aliases.items():
        for name in (key, *names):
            out[_norm(name)] = key
    return out


def decode(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without a byte-order mark), else GB18030 (a superset of GBK)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise FileRefused("encoding") from exc


def _csv_rows(data: bytes) -> list[tuple[int, list[Cell]]]:
    text = decode(data)
    if "\x00" in text:
        raise FileRefused("damaged")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",;\t", key=first.count) if first else ","  # a comma unless the header says otherwise
    reader = csv.reader(io.StringIO(text), delimiter=delimiter if first.count(delimiter) else ",")
    out: list[tuple[int, list[Cell]]] = []
    try:
        line = 1
        for row in reader:
            out.append((line, list(row)))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise FileRefused("damaged") from exc
    return out


def _xlsx_rows(data: bytes) -> list[tuple[int, list[Cell]]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (BadZipFile, KeyError, ValueError, OSError) as exc:
        raise FileRefused("damaged") from exc
    try:
        sheet = book.worksheets[0]
        return [(i, list(row)) for i, row in enumerate(sheet.iter_rows(values_only=True), start=1)]
    finally:
        book.close()


def _clean(value: Cell) -> Cell:
    if isinstance(value, str):
        value = value.replace("\u3000", " ").strip()
        if value[:2] in ("'=", "'+", "'-", "'@"):  # our own exports neutralise formulas so; read them back
            value = value[1:]
        return value or None
    return value


def read(data: bytes, filename: str, aliases: Mapping[str, Iterable[str]],
         required: Iterable[str] = ()) -> Sheet:
    """The file's rows as {column key: cell}; unknown columns are dropped."""
    name = filename.lower()
    if not name.endswith(EXTENSIONS):
        raise FileRefused("type")
    raw = _xlsx_rows(data) if name.endswith((".xlsx", ".xlsm")) else _csv_rows(data)
    names = alias_map(aliases)
    header_at, header = -1, []
    for i, (_, row) in enumerate(raw[:HEADER_SEARCH]):
        keys = [names.get(_norm(str(c))) if c is not None else None for c in row]
        if any(keys):
            header_at, header = i, keys
            break
    if header_at < 0:
        raise FileRefused("empty" if not any(any(_clean(c) for c in r) for _, r in raw) else "missing_column",
                          column=next(iter(required), ""))
    found = tuple(k for k in header if k)
    for key in required:
        if key not in found:
            raise FileRefused("missing_column", column=key)
    rows = []
    for line, row in raw[header_at + 1:]:
        cells = {}
        for i, key in enumerate(header):
            if key and i < len(row) and key not in cells:
                value = _clean(row[i])
                if value is not None:
                    cells[key] = value
        if cells:
            rows.append(Row(line, cells))
    return Sheet(found, rows)


def looks_like_formula(text: str) -> bool:
    """A cell a spreadsheet would run ("=HYPERLINK(…)", "@SUM(…)"): refused rather than stored."""
    return text.startswith(("=", "@"))
