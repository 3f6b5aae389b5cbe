"""Strict validation of Bot API calls against the machine-readable spec (``api.json``).

The spec is Bot API 10.1 from PaulSonOfLars/telegram-bot-api-spec (MIT, see ``LICENSE``).
Values arrive either as form strings (numbers as text, nested objects as JSON strings),
as multipart parts (files) or as a JSON body; :func:`Spec.validate` turns them into
typed Python values or raises :class:`ApiError` with a Telegram-like description.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("api.json")

# Parameters that older clients (python-telegram-bot 22.8 speaks Bot API 10.0) may still send
# although 10.1 no longer lists them. Keyed by method name; accepted and ignored.
LEGACY_PARAMS: dict[str, set[str]] = {}

# Types that clients may send as a bare string (aiogram sends poll options as strings).
STRING_SHORTHANDS = {"InputPollOption": "text"}

_DISCRIMINATOR = re.compile(r"(?:must be|always) \"?([a-z_]+)\"?")


class ApiError(Exception):
    """A Bot API error response: HTTP status == error_code."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass
class FieldSpec:
    name: str
    types: list[str]
    required: bool
    description: str


@dataclass
class TypeSpec:
    name: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    subtypes: list[str] = field(default_factory=list)


def _fields(raw: list[dict[str, Any]]) -> dict[str, FieldSpec]:
    return {
        f["name"]: FieldSpec(f["name"], list(f["types"]), bool(f["required"]), f.get("description", ""))
        for f in raw
    }


class Spec:
    """The loaded Bot API description with a validator for method calls."""

    def __init__(self, path: Path = SPEC_PATH) -> None:
        raw = json.loads(path.read_text(encoding="utf-8"))
        self.version: str = raw["version"]
        self.methods: dict[str, dict[str, FieldSpec]] = {
            name: _fields(m.get("fields", [])) for name, m in raw["methods"].items()
        }
        self.types: dict[str, TypeSpec] = {
            name: TypeSpec(name, _fields(t.get("fields", [])), list(t.get("subtypes", [])))
            for name, t in raw["types"].items()
        }
        # lower-case lookup: Telegram method names are case-insensitive
        self._method_names = {name.lower(): name for name in self.methods}

    def canonical_method(self, name: str) -> str | None:
        return self._method_names.get(name.lower())

    # ------------------------------------------------------------------ public API
    def validate(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Check and coerce the parameters of ``method`` (a canonical name)."""
        fields = self.methods[method]
        legacy = LEGACY_PARAMS.get(method, set())
        out: dict[str, Any] = {}
        for name, value in params.items():
            if name in legacy:
                continue
            spec = fields.get(name)
            if spec is None:
                raise bad_request(f'unknown parameter "{name}"')
            out[name] = self._value(value, spec.types, name)
        for name, spec in fields.items():
            if spec.required and name not in out:
                if name == "text":
                    raise bad_request("message text is empty")
                raise bad_request(f'parameter "{name}" is required')
        return out

    # ------------------------------------------------------------------ coercion
    def _value(self, value: Any, types: list[str], where: str) -> Any:
        """Try each alternative type in turn; report the first failure if none fits."""
        first: ApiError | None = None
        for type_name in types:
            try:
                return self._one(value, type_name, where)
            except ApiError as exc:
                first = first or exc
        assert first is not None
        raise first

    def _one(self, value: Any, type_name: str, where: str) -> Any:
        if type_name.startswith("Array of "):
            return self._array(value, type_name[len("Array of ") :], where)
        scalar = _SCALARS.get(type_name)
        if scalar is not None:
            return scalar(value, where)
        if type_name == "InputFile":
            if isinstance(value, UploadedFile):
                return value
            raise bad_request(f'parameter "{where}" must be a file')
        if isinstance(value, UploadedFile):
            raise bad_request(f'parameter "{where}" must be of type {type_name}, not a file')
        return self._object(value, type_name, where)

    def _array(self, value: Any, item_type: str, where: str) -> list[Any]:
        value = _maybe_json(value, where)
        if not isinstance(value, list):
            raise bad_request(f'parameter "{where}" must be an Array')
        return [self._one(item, item_type, f"{where}[{i}]") for i, item in enumerate(value)]

    def _object(self, value: Any, type_name: str, where: str) -> dict[str, Any]:
        if isinstance(value, str) and type_name in STRING_SHORTHANDS and not value.startswith("{"):
            value = {STRING_SHORTHANDS[type_name]: value}
        value = _maybe_json(value, where)
        if not isinstance(value, dict):
            raise bad_request(f'parameter "{where}" must be an object of type {type_name}')
        spec = self.types.get(type_name)
        if spec is None:
            raise bad_request(f'unsupported type {type_name} in "{where}"')
        if spec.subtypes:
            return self._object(value, self._pick_subtype(spec, value, where), where)
        out: dict[str, Any] = {}
        for key, item in value.items():
            fspec = spec.fields.get(key)
            if fspec is None:
                raise bad_request(f'unknown field "{key}" in {type_name} ("{where}")')
            out[key] = self._value(item, fspec.types, f"{where}.{key}")
        for key, fspec in spec.fields.items():
            if fspec.required and key not in out:
                raise bad_request(f'field "{key}" of {type_name} is required ("{where}")')
        return out

    def _pick_subtype(self, spec: TypeSpec, value: dict[str, Any], where: str) -> str:
        key, table = self._discriminators[spec.name]
        tag = value.get(key)
        if tag not in table:
            raise bad_request(f'unsupported {spec.name} {key} "{tag}" in "{where}"')
        return table[tag]

    @cached_property
    def _discriminators(self) -> dict[str, tuple[str, dict[str, str]]]:
        """For each abstract type: the tag field (type/status/source) and tag → subtype."""
        result: dict[str, tuple[str, dict[str, str]]] = {}
        for spec in self.types.values():
            if not spec.subtypes:
                continue
            key, table = "type", {}
            for sub in spec.subtypes:
                if sub not in self.types:
                    continue  # e.g. a scalar listed as an alternative
                first = next(iter(self.types[sub].fields.values()), None)
                if first is None:
                    continue
                match = _DISCRIMINATOR.search(first.description)
                if match:
                    key = first.name
                    table[match.group(1)] = sub
            result[spec.name] = (key, table)
        return result


# ---------------------------------------------------------------------- scalars
def _maybe_json(value: Any, where: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f'can\'t parse JSON in parameter "{where}"') from None
    return value


def _integer(value: Any, where: str) -> int:
    if isinstance(value, bool):
        raise bad_request(f'parameter "{where}" must be an Integer')
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    raise bad_request(f'parameter "{where}" must be an Integer')


def _float(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise bad_request(f'parameter "{where}" must be a Float')
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise bad_request(f'parameter "{where}" must be a Float')


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value in (0, 1) and not isinstance(value, float):
        return bool(value)
    raise bad_request(f'parameter "{where}" must be a Boolean')


def _string(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise bad_request(f'parameter "{where}" must be a String')


_SCALARS = {"Integer": _integer, "Float": _float, "Boolean": _boolean, "String": _string}

_SPEC: Spec | None = None


def get_spec() -> Spec:
    """The process-wide parsed spec (parsing takes ~50 ms, so it is done once)."""
    global _SPEC
    if _SPEC is None:
        _SPEC = Spec()
    return _SPEC
