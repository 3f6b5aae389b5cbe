"""Typed errors raised by use cases. They carry no display text: bot/ maps them to words."""

from __future__ import annotations


class FlowError(Exception):
    """Base of every error a use case raises on purpose."""

    code = "error"

    def __init__(self, *args: object, **details: object) -> None:
        super().__init__(*args)
        self.details = details


class NotFound(FlowError):
    code = "not_found"

    def __init__(self, what: str, key: object = None) -> None:
        super().__init__(what, key, what=what, key=key)
        self.what = what
        self.key = key


class Forbidden(FlowError):
    """The actor may not do this (role missing, or not their community)."""

    code = "forbidden"

    def __init__(self, permission: str) -> None:
        super().__init__(permission, permission=permission)
        self.permission = permission


class NotRegistered(FlowError):
    code = "not_registered"


class AlreadyDone(FlowError):
    code = "already_done"

    def __init__(self, what: str) -> None:
        super().__init__(what, what=what)
        self.what = what


class Expired(FlowError):
    code = "expired"

    def __init__(self, what: str) -> None:
        super().__init__(what, what=what)
        self.what = what


class Invalid(FlowError):
    """Input that breaks a rule: `field` names the input, `reason` the rule (e.g. too_long)."""

    code = "invalid"

    def __init__(self, field: str, reason: str, **details: object) -> None:
        super().__init__(field, reason, field=field, reason=reason, **details)
        self.field = field
        self.reason = reason


class LimitReached(FlowError):
    """The actor has used up an allowance (e.g. needs per collection): `what` names it, `limit` its size."""

    code = "limit_reached"

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(what, limit, what=what, limit=limit)
        self.what = what
        self.limit = limit
