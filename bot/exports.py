"""Rendering an export (flows/exports.py) as CSV or XLSX, in the reader's language, for the bot and the CLI.

CSV is UTF-8 with a byte-order mark (so spreadsheet programs read the Chinese right); XLSX has its header
row bold and frozen, and column widths from the longest cell (a CJK character counts double). The cells
come neutralised from the flow (no formula can start); XLSX cells are also written as values, never as
formulas. Nothing here logs a cell."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable

from bot.core.i18n import N_, tr
from flows.exports import Cell, Table

FORMATS = ("csv", "xlsx")
LIST_NAMES = {"needs": N_("Needs"), "ballot": N_("Ballot"), "projects": N_("Projects"),
              "requests": N_("Requests"), "ledger": N_("Care ledger"), "checkins": N_("Check-ins"),
              "wishes": N_("Micro-wishes"), "posts": N_("Micro projects, deeds and posts"),
              "spaces": N_("Micro spaces"), "loans": N_("Tool loans"), "jobs": N_("Job openings"),
              "trainings": N_("Trainings")}
COLUMNS = {
    "year": N_("Year"), "number": N_("No."), "category": N_("Category"), "status": N_("Status"),
    "channel": N_("Channel"), "text": N_("Text"), "author": N_("Author (member no.)"),
    "created_at": N_("Created"), "round": N_("Round"), "position": N_("Position"), "title": N_("Title"),
    "votes": N_("Votes"), "withdrawn_at": N_("Withdrawn"), "owner": N_("Owner (member no.)"),
    "deadline": N_("Deadline"), "budget_yuan": N_("Budget (yuan)"), "funding": N_("Funding"),
    "percent": N_("Percent done"), "last_report_at": N_("Last report"), "completed_at": N_("Completed"),
    "kind": N_("Kind"), "state": N_("State"), "organisation": N_("Organisation"), "building": N_("Building"),
    "closed_at": N_("Closed"), "room": N_("Room"), "alias": N_("Alias"), "name": N_("Name"),
    "contact": N_("Contact"), "notes": N_("Notes"), "groups": N_("Groups"), "risk": N_("Risk"),
    "services": N_("Services"), "primary": N_("Primary volunteer (member no.)"),
    "backup": N_("Backup volunteer (member no.)"), "active": N_("Active"), "closed_reason": N_("Reason closed"),
    "date": N_("Date"), "slot": N_("Slot"), "answer": N_("Answer"), "answered_at": N_("Answered"),
    "claimer": N_("Claimed by (member no.)"), "claimer_kind": N_("Claimed as"), "due": N_("Due"),
    "claimed_at": N_("Claimed"), "fulfilled_at": N_("Fulfilled"), "thanked_at": N_("Thanked"),
    "reopened": N_("Reopened"), "done_at": N_("Done"), "note": N_("Note"),
    "place": N_("Place"), "hours": N_("Opening hours"), "offered": N_("Services offered"),
    "keeper": N_("Keeper (member no.)"), "tools": N_("Tools"),
    "space": N_("Space"), "tool": N_("Tool"), "borrower": N_("Borrower (member no.)"), "due_on": N_("Return by"),
    "handed_at": N_("Handed over"), "returned_at": N_("Returned"), "overdue_reminders": N_("Overdue reminders"),
    "employer": N_("Employer"), "pay": N_("Pay"), "closes_on": N_("Closing date"),
    "applications": N_("Applications"), "starts_at": N_("Starts"), "capacity": N_("Seats"),
    "signed_up": N_("Signed up"), "attended": N_("Attended"),
}
MAX_WIDTH = 60


def header(table: Table, lang: str) -> list[str]:
    return [tr(lang, COLUMNS[key]) for key in table.header]


def filename(table: Table, fmt: str, year: int | None) -> str:
    return f"{table.community}-{table.kind}{f'-{year}' if year else ''}.{fmt}"


def to_csv(table: Table, lang: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header(table, lang))
    writer.writerows(["" if v is None else v for v in row] for row in table.rows)
    return out.getvalue().encode("utf-8-sig")


def _width(value: Cell) -> int:
    text = "" if value is None else str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def to_xlsx(table: Table, lang: str, progress: Callable[[int], None] | None = None) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=False)
    ws = wb.active
    assert ws is not None
    ws.title = tr(lang, LIST_NAMES[table.kind])[:31]
    names = header(table, lang)
    ws.append(names)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    widths = [_width(n) for n in names]
    for i, row in enumerate(table.rows, start=1):
        ws.append(list(row))
        for c, v in enumerate(row):
            widths[c] = max(widths[c], _width(v))
        if progress and i % 500 == 0:
            progress(i)
    for r in ws.iter_rows(min_row=2):
        for cell in r:
            cell.data_type = "s" if isinstance(cell.value, str) else cell.data_type  # a value, never a formula
    ws.freeze_panes = "A2"
    for c, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = min(w + 2, MAX_WIDTH)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def render(table: Table, fmt: str, lang: str, progress: Callable[[int], None] | None = None) -> bytes:
    return to_xlsx(table, lang, progress) if fmt == "xlsx" else to_csv(table, lang)
