"""An import's report (flows/imports/run.py) in the reader's language, for the bot and the command line: the
counts, the rejected rows with their line, column and why, and the whole report as a CSV file when it is long.
Never a cell's value: the files hold residents' names and phones, and reports are pasted into chats."""

from __future__ import annotations

import csv
import io

from bot.core.i18n import N_, tn, tr
from bot.exports import COLUMNS as EXPORT_COLUMNS
from flows.imports.reader import FileRefused
from flows.imports.run import Report, RowResult

KINDS = ("residents", "key-persons", "complaints")
KIND_NAMES = {"residents": N_("Residents (household roster)"), "key-persons": N_("Key persons (care ledger)"),
              "complaints": N_("12345 hotline complaints")}
COLUMNS = dict(EXPORT_COLUMNS) | {
    "size": N_("Household size"), "phone": N_("Phone"), "source_id": N_("Work order no."),
    "received_at": N_("Received"), "summary": N_("Complaint"), "estate": N_("Estate"), "address": N_("Address"),
    "satisfaction": N_("Satisfaction"), "primary or backup": N_("Primary or backup volunteer"),
}
REASONS = {
    "empty": N_("missing"), "too_long": N_("too long (at most {limit} characters)"),
    "unknown": N_("not one of the known values"), "same": N_("primary and backup are the same member"),
    "not_volunteer": N_("that member is not a volunteer of this community"),
    "unknown_building": N_("no such building in this community"),
    "unknown_member": N_("no such member in this community"),
    "formula": N_("looks like a spreadsheet formula (starts with = or @): not imported"),
    "date": N_("not a date we can read (e.g. 2026/3/5 14:02)"), "before": N_("earlier than the call"),
    "number": N_("not a number from 1 to {limit}"), "duplicate": N_("the same as line {line} of this file"),
    "forbidden": N_("not one of your grid's buildings"), "database": N_("the database refused the row"),
}
FORMAT = {"primary": N_("not a member number"), "backup": N_("not a member number"),
          "phone": N_("not a phone number")}
FILE_REASONS = {
    "type": N_("Please send a CSV or XLSX file (.csv, .xlsx)."),
    "size": N_("The file is too big: at most {limit} MB."),
    "encoding": N_("The file is not text in UTF-8 or GBK: save it as \"CSV UTF-8\" or as XLSX."),
    "empty": N_("The file has no rows."),
    "damaged": N_("The file cannot be read: it may be damaged, or not the type its name says."),
    "missing_column": N_("The file has no column \"{column}\" (accepted names: {names}). Nothing was imported."),
}
SHOWN = 10  # rejected rows in the message; the rest in the file


def column(lang: str, key: str, *, words: bool = True) -> str:
    return tr(lang, COLUMNS[key]) if words and key in COLUMNS else key


NOT_IN_FORM = N_("not in the right form")  # (nested in tr(…) it was never extracted for translation)


def why(lang: str, r: RowResult, *, words: bool = True) -> str:
    """'column alias: missing' — a rejected row's column and rule, without its value."""
    if r.reason == "format":
        reason = tr(lang, FORMAT.get(r.column, NOT_IN_FORM))
    elif r.reason in REASONS:
        reason = tr(lang, REASONS[r.reason], **r.details)
    else:
        reason = r.reason
    if not r.column:
        return reason
    return tr(lang, "column {column}: {reason}", column=column(lang, r.column, words=words), reason=reason)


def refused(lang: str, err: FileRefused, aliases: dict[str, tuple[str, ...]], *, words: bool = True) -> str:
    key = str(err.details.get("column", ""))
    names = ", ".join(aliases.get(key, ())[:4] + (key,))
    return tr(lang, FILE_REASONS.get(err.reason, FILE_REASONS["damaged"]), limit=err.details.get("limit", 5),
              column=column(lang, key, words=words) if key else "", names=names)


def counts(lang: str, report: Report) -> str:
    c = report.counts
    text = N_("Would create {created}, update {updated}, leave {unchanged} unchanged; {rejected} rejected.") \
        if report.dry_run else N_("Created {created}, updated {updated}, {unchanged} unchanged; {rejected} rejected.")
    return tr(lang, text, **c)


def absent(lang: str, report: Report) -> list[str]:
    """A roster's households that the file leaves out, by building, and what becomes of them (nothing unless the
    import removes them); no line when it leaves none out."""
    n = sum(report.absent.values())
    if not n and not report.removed:
        return []
    if report.removed:
        return [tn(lang, "Removed {n} household not in the file.", "Removed {n} households not in the file.",
                   report.removed)]
    where = ", ".join(tr(lang, "Building {label}: {count}", label=label, count=count)
                      for label, count in report.absent.items())
    line = tn(lang, "{n} household of the file's buildings is not in it ({where}).",
              "{n} households of the file's buildings are not in it ({where}).", n, where=where)
    if report.removing and report.dry_run:
        return [line + " " + tr(lang, "The import will remove them.")]
    if report.rejected:
        return [line + " " + tr(lang, "They can be removed once every row of the file goes through.")]
    return [line + " " + tr(lang, "They are kept unless you choose to remove them.")]


def lines(lang: str, report: Report, *, limit: int | None = SHOWN, words: bool = True) -> list[str]:
    rows = report.rejected if limit is None else report.rejected[:limit]
    out = [tr(lang, "line {line}: {why}", line=r.line, why=why(lang, r, words=words)) for r in rows]
    notes = [r for r in report.rows if "new_building" in r.notes]
    if notes:
        out.append(tr(lang, "New buildings will be created for lines {lines}.",
                      lines=", ".join(str(r.line) for r in notes[:20]) + ("…" if len(notes) > 20 else "")))
    return out


def as_csv(lang: str, report: Report) -> bytes:
    """The whole report, a row per line of the file (UTF-8 with BOM, like the exports)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([tr(lang, "Line"), tr(lang, "Outcome"), tr(lang, "Why")])
    names = {"created": N_("created"), "updated": N_("updated"), "unchanged": N_("unchanged"),
             "rejected": N_("rejected")}
    for r in report.rows:
        writer.writerow([r.line, tr(lang, names[r.outcome]), why(lang, r) if r.outcome == "rejected" else ""])
    return out.getvalue().encode("utf-8-sig")
