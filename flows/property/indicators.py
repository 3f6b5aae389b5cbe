"""The indicator system of the monthly property evaluation (F-10.1): a YAML data file, validated on load.

A community or the district copies `indicators-district.yaml` (shipped beside this module, from the district's
draft), edits it, and checks it with `linli property indicators check FILE`. Loading checks everything a score
depends on and names the item at fault: the category weights add up to `total`, each category's weight is the
sum of its items', each item's weight is positive and its rule known, the formula's shares add up to 100.

Rules: absent or "full/partial/none" (the scorer picks full = the weight, partial = half, none = 0), or a
deduction "−x per place" (the scorer counts places; the item gets weight − x × count, never below 0)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from flows.property.yamlish import YamlError, loads

DISTRICT_FILE = Path(__file__).with_name("indicators-district.yaml")

GRADES = ("full", "partial", "none")
_PER = re.compile(r"^[−\-–]\s*(\d+(?:\.\d+)?)\s*(?:分\s*)?(?:per|/)\s*(.+)$")
_PER_ZH = re.compile(r"^每(.+?)扣\s*(\d+(?:\.\d+)?)\s*分$")
_GRADE_WORDS = {"full/partial/none", "grade", "全部/部分/未做到"}


class IndicatorError(ValueError):
    """The file cannot be used; `problems` lists every fault, each naming where it is."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Rule:
    kind: str  # "grade" | "per"
    per: float = 0.0  # points deducted per counted place (kind "per")
    unit: str = ""  # what is counted ("place", "time", "missing item")
    text: str = ""  # the rule as the file says it

    def points(self, weight: float, *, grade: str | None = None, count: int | None = None) -> float:
        """The item's points for the scorer's answer."""
        if self.kind == "per":
            if count is None or count < 0:
                raise ValueError("a deduction rule needs a count ≥ 0")
            return max(0.0, round(weight - self.per * count, 4))
        if grade not in GRADES:
            raise ValueError(f"a grade is one of {GRADES}")
        return {"full": weight, "partial": weight / 2, "none": 0.0}[grade]


@dataclass(frozen=True)
class Item:
    code: str  # "2.1": category number . item number, stable while the file's order is
    category: str  # the category's key
    zh: str
    en: str
    weight: float
    rule: Rule
    source: str = ""

    def name(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") or not self.en else self.en


@dataclass(frozen=True)
class Category:
    key: str
    zh: str
    en: str
    weight: float
    items: tuple[Item, ...]

    def name(self, lang: str) -> str:
        return self.zh if lang.startswith("zh") or not self.en else self.en


@dataclass(frozen=True)
class Indicators:
    total: float
    categories: tuple[Category, ...]
    shares: dict[str, float] = field(default_factory=lambda: {"items": 70.0, "satisfaction": 20.0,
                                                               "complaints": 10.0})
    complaints_zero_at: float = 30.0  # complaints per 1,000 households a month at which that part is 0
    survey_min_answers: int = 30
    survey_min_share: float = 0.1

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(i for c in self.categories for i in c.items)

    def item(self, code: str) -> Item | None:
        return next((i for i in self.items if i.code == code), None)


def parse_rule(text: Any) -> Rule | None:
    """A rule from the file's words, or None when it is not understood."""
    if text is None or (isinstance(text, str) and text.strip().lower() in _GRADE_WORDS):
        return Rule("grade", text=str(text or "full/partial/none"))
    if not isinstance(text, str):
        return None
    words = text.strip()
    if m := _PER.match(words):
        per, unit = float(m.group(1)), m.group(2).strip()
    elif m := _PER_ZH.match(words):
        per, unit = float(m.group(2)), m.group(1).strip()
    else:
        return None
    return Rule("per", per=per, unit=unit, text=words) if per > 0 else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _names(raw: Any, where: str, problems: list[str]) -> tuple[str, str]:
    if isinstance(raw, str):
        return raw, ""
    if isinstance(raw, dict) and isinstance(raw.get("zh"), str) and raw["zh"].strip():
        return raw["zh"].strip(), str(raw.get("en") or "").strip()
    problems.append(f"{where}: needs a name (zh)")
    return "", ""


def _settings(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    shares = data.get("formula", {"items": 70, "satisfaction": 20, "complaints": 10})
    if not isinstance(shares, dict) or set(shares) != {"items", "satisfaction", "complaints"} \
            or any(_number(v) is None or _number(v) < 0 for v in shares.values()):  # type: ignore[operator]
        problems.append("formula: needs items, satisfaction and complaints, each a number ≥ 0")
    elif abs(sum(float(v) for v in shares.values()) - 100) > 1e-6:
        problems.append(f"formula: the shares add up to {sum(float(v) for v in shares.values()):g}, not 100")
    else:
        out["shares"] = {k: float(v) for k, v in shares.items()}
    for key, lo, kind in (("complaints_zero_at", 0.0, float), ("survey_min_answers", 1, int),
                          ("survey_min_share", 0.0, float)):
        if key in data:
            value = _number(data[key])
            if value is None or value < lo or (kind is int and value != int(value)) \
                    or (key == "survey_min_share" and value > 1) or (key == "complaints_zero_at" and value == 0):
                problems.append(f"{key}: '{data[key]}' is not a valid value")
            else:
                out[key] = kind(value)
    return out


def validate(data: Any) -> Indicators:
    """The indicator system from a parsed file; IndicatorError naming every fault otherwise."""
    if not isinstance(data, dict) or not isinstance(data.get("categories"), list) or not data["categories"]:
        raise IndicatorError(["the file needs a list of categories"])
    problems: list[str] = []
    total = _number(data.get("total", 100))
    if total is None or total <= 0:
        problems.append("total: must be a positive number")
        total = 100.0
    settings = _settings(data, problems)
    categories: list[Category] = []
    keys: set[str] = set()
    for ci, raw in enumerate(data["categories"], 1):
        where = f"category {ci}"
        if not isinstance(raw, dict):
            problems.append(f"{where}: is not a mapping")
            continue
        key = str(raw.get("key") or f"c{ci}")
        if key in keys:
            problems.append(f"{where}: key '{key}' is used twice")
        keys.add(key)
        zh, en = _names(raw.get("name"), where, problems)
        where = f"category {ci} '{zh or key}'"
        weight = _number(raw.get("weight"))
        if weight is None or weight <= 0:
            problems.append(f"{where}: weight must be a positive number")
            weight = 0.0
        items: list[Item] = []
        raw_items = raw.get("items")
        if not isinstance(raw_items, list) or not raw_items:
            problems.append(f"{where}: has no items")
            raw_items = []
        for ii, it in enumerate(raw_items, 1):
            code = f"{ci}.{ii}"
            if not isinstance(it, dict):
                problems.append(f"item {code}: is not a mapping")
                continue
            izh, ien = _names(it, f"item {code}", problems)
            label = f"item {code} '{izh}'"
            iw = _number(it.get("weight"))
            if iw is None or iw <= 0:
                problems.append(f"{label}: weight must be a positive number, not '{it.get('weight')}'")
                iw = 0.0
            rule = parse_rule(it.get("rule"))
            if rule is None:
                problems.append(f"{label}: unknown rule '{it.get('rule')}' (use full/partial/none or "
                                f"'−x per place')")
                rule = Rule("grade")
            items.append(Item(code=code, category=key, zh=izh, en=ien, weight=iw, rule=rule,
                              source=str(it.get("source") or "")))
        got = sum(i.weight for i in items)
        if items and weight and abs(got - weight) > 1e-6:
            problems.append(f"{where}: weight {weight:g} but its items add up to {got:g}")
        categories.append(Category(key=key, zh=zh, en=en, weight=weight, items=tuple(items)))
    weights = sum(c.weight for c in categories)
    if abs(weights - total) > 1e-6:
        problems.append(f"the category weights add up to {weights:g}, not {total:g}")
    if problems:
        raise IndicatorError(problems)
    return Indicators(total=total, categories=tuple(categories), **settings)


@lru_cache(maxsize=64)
def loads_indicators(text: str) -> Indicators:
    """An indicator system from a file's text (cached by the text: the ranking reads every community's)."""
    try:
        data = loads(text)
    except YamlError as err:
        raise IndicatorError([str(err)]) from err
    return validate(data)


def load(path: Path | str) -> Indicators:
    return loads_indicators(Path(path).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def district() -> Indicators:
    """The district default (the shipped file), read once."""
    return load(DISTRICT_FILE)
