"""Config dataclasses to and from JSON: how a request that did not come from the command line is built.

The service receives ``{"command": "select", "config": {...}}``; :func:`config_from_json` turns the
object into the same dataclass the command line builds, so the same ``__post_init__`` validates it, and
a refusal names the field (:class:`ConfigError`) with the message the command line would print. Values
are checked against the field's type (an int field takes an int, or a string of one, as the command line
would; a list of ints takes a list or ``"1,2"``), nested configs are objects, unknown keys are refused.
:func:`config_schema` describes the fields (type, default, help, choices) for forms and the OpenAPI page.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from thresher.config_field import (
    accepts_none,
    field_default,
    field_type,
    flag_of,
    out_of_bounds,
    without_none,
)
from thresher.errors import ConfigError, ThresherError


def config_from_json(cls: type, data: Mapping[str, Any] | None) -> Any:
    """Build and validate ``cls`` from a JSON object; any refusal is a one-line :class:`ConfigError`.

    Only the fields a user may set are accepted: those the command line exposes (``setting(cli=False)``
    marks internal ones, such as a Hub token, which must never travel in a request).
    """
    data = {} if data is None else data
    if not isinstance(data, Mapping):
        raise ConfigError(f"the config must be a JSON object, not {type(data).__name__}")
    fields = {f.name: f for f in exposed_fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown field {unknown[0]!r}; {cls.__name__} has: {', '.join(sorted(fields))}", field=unknown[0]
        )
    values: dict[str, Any] = {}
    for name, field in fields.items():
        if name in data:
            values[name] = _convert(cls, field, data[name])
        elif field_default(field) is dataclasses.MISSING:
            raise ConfigError(f"missing required field {name!r}", field=name)
    try:
        return cls(**values)
    except ConfigError:
        raise
    except ThresherError as exc:
        raise ConfigError(str(exc), field=_field_named_in(cls, str(exc))) from None


def config_to_json(config: Any) -> dict[str, Any]:
    """The request a config answers, as a JSON object: the fields a user may set (what
    :func:`config_from_json` takes back), nested configs as objects, tuples as lists."""
    out = {}
    for field in exposed_fields(type(config)):
        value = getattr(config, field.name)
        out[field.name] = config_to_json(value) if dataclasses.is_dataclass(value) else to_json_value(value)
    return out


def to_json_value(value: Any) -> Any:
    """Any result or config value as plain JSON data (dataclasses, paths, numpy scalars and arrays)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_value(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if hasattr(value, "tolist") and hasattr(value, "dtype"):  # numpy arrays and scalars
        return to_json_value(value.tolist())
    return value


def config_schema(cls: type) -> list[dict[str, Any]]:
    """One entry per field a request may set: name, type, default, help, choices, flag, nested fields."""
    out = []
    for field in exposed_fields(cls):
        hint = field_type(cls, field)
        base = without_none(hint)
        default = field_default(field)
        entry: dict[str, Any] = {
            "name": field.name,
            "type": _type_name(base),
            "nullable": accepts_none(hint),
            "required": default is dataclasses.MISSING,
            "help": field.metadata.get("help", ""),
            "flag": flag_of(field),
        }
        if default is not dataclasses.MISSING:
            entry["default"] = to_json_value(default)
        if "choices" in field.metadata:
            entry["choices"] = list(field.metadata["choices"])
        if "bounds" in field.metadata:
            entry["minimum"], entry["maximum"] = field.metadata["bounds"]
        if dataclasses.is_dataclass(base):
            entry["fields"] = config_schema(base)
        out.append(entry)
    return out


def exposed_fields(cls: type) -> list[dataclasses.Field]:
    """The fields a request may set: initialized, and not marked ``cli=False``."""
    return [f for f in dataclasses.fields(cls) if f.init and f.metadata.get("cli", True)]


def _type_name(hint: Any) -> str:
    if dataclasses.is_dataclass(hint):
        return "object"
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        return f"list[{_type_name(args[0]) if args else 'any'}]"
    return {bool: "boolean", int: "integer", float: "number", str: "string"}.get(hint, "any")


def _convert(cls: type, field: dataclasses.Field, value: Any) -> Any:
    hint = field_type(cls, field)
    if value is None:
        if accepts_none(hint):
            return None
        raise ConfigError(f"{field.name} may not be null", field=field.name)
    try:
        converted = _as_type(without_none(hint), value)
    except ConfigError as exc:
        raise ConfigError(f"{field.name}: {exc}", field=field.name) from None
    problem = out_of_bounds(field, converted)
    if problem is not None:
        raise ConfigError(problem, field=field.name)
    return converted


def _as_type(hint: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(f"expected an object, got {value!r}")
        return config_from_json(hint, value)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"expected a string, got {value!r}")
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)):
            raise ConfigError(f"expected a list, got {value!r}")
        if isinstance(value, str):
            items = [x.strip() for x in items if x.strip()]
        if origin is tuple and args and Ellipsis not in typing.get_args(hint) and len(items) != len(args):
            raise ConfigError(f"expected {len(args)} values, got {len(items)}")
        element_types = (
            args if origin is tuple and Ellipsis not in typing.get_args(hint) else args * len(items)
        )
        converted = (
            [_as_type(t, x) for t, x in zip(element_types, items, strict=False)] if args else list(items)
        )
        return tuple(converted) if origin is tuple else converted
    return value


def _field_named_in(cls: type, message: str) -> str | None:
    """The field a validation message is about, so the service can point at it: the field whose flag it
    names (the longest: ``--keep-count`` before ``--keep``), else the field whose name it uses as a word."""
    fields = [f for f in dataclasses.fields(cls) if f.init]
    by_flag = [f for f in fields if re.search(re.escape(flag_of(f)) + r"(?![\w-])", message)]
    if by_flag:
        return max(by_flag, key=lambda f: len(flag_of(f))).name
    by_name = [f for f in fields if re.search(rf"(?<![\w-]){re.escape(f.name)}(?![\w-])", message)]
    return by_name[0].name if len(by_name) == 1 else None
