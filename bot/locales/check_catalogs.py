"""Check (and, with --update, refresh) Linli's translation catalogs against linli.pot.

    .venv/bin/python bot/locales/check_catalogs.py            # report problems, exit 1 if any
    .venv/bin/python bot/locales/check_catalogs.py --update   # merge new msgids from linli.pot, then check

Checks, for every catalog (en, zh_CN): every msgid of the template is present, no msgstr is empty
or still flagged fuzzy, the {placeholder} names match the msgid's, the braces parse as
str.format, and the Telegram HTML tags are balanced and the same as the msgid's. Entries that are
in a catalog but no longer in the template are reported too (run --update to retire them).

--update merges the template into both catalogs (creating missing ones): English gets
msgstr = msgid (English is the source language); other languages get an empty msgstr flagged
"fuzzy", so a translator can find and fill them (`#, fuzzy` entries are not used at run time).
Messages dropped from the template are kept as obsolete `#~` entries.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import re
import string
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po

LOCALES_DIR = Path(__file__).resolve().parent
DOMAIN = "linli"
TEMPLATE = LOCALES_DIR / f"{DOMAIN}.pot"
SOURCE_LANG = "en"
LANGUAGES = ("en", "zh_CN")
PLURAL_FORMS = {"en": "nplurals=2; plural=(n != 1);", "zh_CN": "nplurals=1; plural=0;"}
LANGUAGE_TEAMS = {"en": "English", "zh_CN": "Chinese (Simplified)"}
WIDTH = 76  # same wrapping as `pybabel extract`, so diffs stay small

TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(?:\s[^<>]*)?(/?)>")


def po_path(lang: str) -> Path:
    return LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale, abort_invalid=True)


def save(catalog: Catalog, path: Path) -> None:
    catalog.charset = "UTF-8"  # read_po() lower-cases it; keep the header as written
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, width=WIDTH, include_previous=False)


# --- checks -------------------------------------------------------------------------------

def placeholders(text: str) -> tuple[set[str] | None, str | None]:
    """Names of the str.format fields in text ({name}, {0}, {x.y} -> x.y), or an error."""
    names: set[str] = set()
    try:
        for _literal, field, spec, _conv in string.Formatter().parse(text):
            if field is None:
                continue
            names.add(field)
            if spec and "{" in spec:  # nested fields inside a format spec
                sub, err = placeholders(spec)
                if err:
                    return None, err
                names |= sub or set()
    except ValueError as exc:
        return None, str(exc)
    return names, None


def html_tags(text: str) -> tuple[Counter[str], str | None]:
    """Opening tags used in text, or an error if the tags are not balanced / well nested."""
    stack: list[str] = []
    used: Counter[str] = Counter()
    for m in TAG_RE.finditer(text):
        closing, name, selfclosing = m.group(1), m.group(2).lower(), m.group(3)
        if selfclosing:
            used[name] += 1
        elif not closing:
            stack.append(name)
            used[name] += 1
        elif not stack:
            return used, f"</{name}> has no opening tag"
        elif stack[-1] != name:
            return used, f"</{name}> closes <{stack[-1]}>"
        else:
            stack.pop()
    if stack:
        return used, "unclosed " + ", ".join(f"<{t}>" for t in stack)
    return used, None


def short(msgid: object, limit: int = 60) -> str:
    text = msgid[0] if isinstance(msgid, (tuple, list)) else str(msgid)
    text = text.replace("\n", "\\n")
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def check_message(lang: str, msg: Message) -> list[str]:
    problems: list[str] = []
    ids = list(msg.id) if isinstance(msg.id, (tuple, list)) else [msg.id]
    strs = list(msg.string) if isinstance(msg.string, (tuple, list)) else [msg.string]
    where = f"{lang}: {short(msg.id)}"
    if msg.fuzzy:
        problems.append(f"{where}: flagged fuzzy (needs a translator's review)")
    if not any(strs):
        problems.append(f"{where}: empty msgstr")
        return problems
    ref_names, err = placeholders(ids[0])
    if err:
        problems.append(f"{where}: msgid has bad braces ({err})")
        return problems
    for other in ids[1:]:  # plural msgid: allow {n}/{count} in either form
        more, _ = placeholders(other)
        ref_names |= more or set()
    ref_tags, _ = html_tags(ids[0])
    for i, s in enumerate(strs):
        label = where if len(strs) == 1 else f"{where} [form {i}]"
        if not s:
            problems.append(f"{label}: empty msgstr")
            continue
        names, err = placeholders(s)
        if err:
            problems.append(f"{label}: msgstr has bad braces ({err})")
        elif len(ids) == 1 and names != ref_names:
            problems.append(f"{label}: placeholders {sorted(names)} != msgid's {sorted(ref_names)}")
        elif len(ids) > 1 and not names <= ref_names:
            problems.append(f"{label}: unknown placeholders {sorted(names - ref_names)}")
        tags, err = html_tags(s)
        if err:
            problems.append(f"{label}: unbalanced HTML ({err})")
        elif tags != ref_tags:
            problems.append(f"{label}: HTML tags {dict(tags)} != msgid's {dict(ref_tags)}")
    return problems


def check(template_path: Path = TEMPLATE, languages: tuple[str, ...] = LANGUAGES) -> list[str]:
    """Every problem found, as one line each (empty list = all good)."""
    problems: list[str] = []
    try:
        template = load(template_path)
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        return [f"{template_path.name}: cannot read ({exc})"]
    wanted = [m for m in template if m.id]
    for lang in languages:
        path = po_path(lang)
        if not path.exists():
            problems.append(f"{lang}: {path.relative_to(LOCALES_DIR)} is missing (run --update)")
            continue
        try:
            cat = load(path, locale=lang)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"{lang}: cannot read {path.name} ({exc})")
            continue
        if cat.fuzzy:
            problems.append(f"{lang}: the header is flagged fuzzy")
        if cat.locale_identifier != lang:
            problems.append(f"{lang}: header Language is {cat.locale_identifier}")
        if lang in PLURAL_FORMS and cat.plural_forms != PLURAL_FORMS[lang]:
            problems.append(f"{lang}: Plural-Forms is {cat.plural_forms!r}, expected {PLURAL_FORMS[lang]!r}")
        for tmsg in wanted:
            msg = cat.get(tmsg.id, tmsg.context)
            if msg is None:
                problems.append(f"{lang}: {short(tmsg.id)}: missing (run --update)")
                continue
            problems.extend(check_message(lang, msg))
            if lang == SOURCE_LANG and msg.string and msg.string != msg.id and (
                    not isinstance(msg.id, (tuple, list)) or tuple(msg.string)[:2] != tuple(msg.id)):
                problems.append(f"{lang}: {short(msg.id)}: msgstr differs from msgid (English is the source)")
        keys = {(m.id if isinstance(m.id, str) else m.id[0], m.context) for m in wanted}
        for msg in cat:
            if msg.id and (msg.id if isinstance(msg.id, str) else msg.id[0], msg.context) not in keys:
                problems.append(f"{lang}: {short(msg.id)}: not in the template any more (run --update)")
    return problems


# --- update -------------------------------------------------------------------------------

def new_catalog(lang: str, template: Catalog) -> Catalog:
    cat = Catalog(locale=lang, domain=DOMAIN, project="Linli", version="1.0",
                  copyright_holder="Linli", charset="UTF-8", fuzzy=False,
                  language_team=f"{LANGUAGE_TEAMS.get(lang, lang)} <linli@localhost>",
                  last_translator="Linli translators <linli@localhost>",
                  creation_date=template.creation_date)
    cat.header_comment = (f"# {LANGUAGE_TEAMS.get(lang, lang)} translations for Linli (邻里).\n"
                          "# This file is distributed under the same license as the Linli project.\n#")
    return cat


def update(template_path: Path = TEMPLATE, languages: tuple[str, ...] = LANGUAGES) -> None:
    for lang in languages:
        # a fresh template each time: Catalog.update() adds new messages without copying them
        template = load(template_path)
        path = po_path(lang)
        cat = load(path, locale=lang) if path.exists() else new_catalog(lang, template)
        before = {m.id if isinstance(m.id, str) else tuple(m.id) for m in cat if m.id}
        cat.update(template, no_fuzzy_matching=True)
        cat.fuzzy = False
        added = 0
        for msg in cat:
            if not msg.id:
                continue
            key = msg.id if isinstance(msg.id, str) else tuple(msg.id)
            if key not in before:
                added += 1
            if lang == SOURCE_LANG:
                if isinstance(msg.id, (tuple, list)):
                    if not all(msg.string or ()):
                        msg.string = tuple(msg.id)
                elif not msg.string:
                    msg.string = msg.id
            elif key not in before or not msg.string or (
                    isinstance(msg.string, (tuple, list)) and not all(msg.string)):
                msg.flags.add("fuzzy")
        cat.revision_date = datetime.now(UTC)
        save(cat, path)
        obsolete = len(cat.obsolete)
        print(f"{lang}: {added} new, {obsolete} obsolete -> {path.relative_to(LOCALES_DIR)}")


def apply(translations: dict[str, str], lang: str = "zh_CN") -> int:
    """Set msgstr for the given msgids (clearing "fuzzy"); returns how many were set."""
    path = po_path(lang)
    cat = load(path, locale=lang)
    done = 0
    for msgid, text in translations.items():
        msg = cat.get(msgid)
        if msg is None:
            print(f"{lang}: not in the catalog (run --update first): {short(msgid)}")
            continue
        msg.string = text
        msg.flags.discard("fuzzy")
        done += 1
    save(cat, path)
    return done


#: Where texts live, and the gettext keywords: ctx.t(msgid), tr(lang, msgid), N_(msgid), tn(lang, one, many, n);
#: in the public board's templates (web/templates, Jinja2) t(msgid) and tp(one, many, n).
SOURCES = ["bot/core", "bot/handlers", "bot/pictures", "bot/runtimes", "bot/render.py", "bot/menus.py", "bot/app.py",
           "bot/sandbox.py", "bot/exports.py", "bot/imports.py", "flows", "web"]
KEYWORDS = ["-k", "t", "-k", "tr:2", "-k", "N_", "-k", "tn:2,3", "-k", "tp:1,2"]
MAPPING = "[python: **.py]\n[jinja2: **.html]\n"  # web/templates/*.html


def extract() -> None:
    root = LOCALES_DIR.parent.parent
    pybabel = Path(sys.executable).parent / "pybabel"
    mapping = LOCALES_DIR / ".babel-mapping.cfg"
    mapping.write_text(MAPPING, encoding="utf-8")
    try:
        subprocess.run([str(pybabel), "-q", "extract", "-F", str(mapping), *KEYWORDS, "--no-location",
                        "--sort-output", "--omit-header", "-o", str(TEMPLATE), *SOURCES], cwd=root, check=True)
    finally:
        mapping.unlink(missing_ok=True)


@contextmanager
def catalog_lock() -> Iterator[None]:
    """Several people (or helpers) may update the catalogs at once: one at a time."""
    with open(LOCALES_DIR / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--update", action="store_true",
                    help="merge new msgids from linli.pot into the catalogs before checking")
    ap.add_argument("--apply", metavar="JSON",
                    help="set zh_CN translations from a JSON object {msgid: msgstr}, then check")
    ap.add_argument("--extract", action="store_true", help="re-extract linli.pot from the code first")
    args = ap.parse_args(argv)
    with catalog_lock():
        if args.extract:
            extract()
        if args.update:
            update()
        if args.apply:
            print(f"zh_CN: {apply(json.loads(Path(args.apply).read_text(encoding='utf-8')))} translation(s) set")
    problems = check()
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s)" if problems else "catalogs OK: no problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
