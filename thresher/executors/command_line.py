"""A config as the command line that builds it again: what a generated sbatch script runs.

The inverse of :func:`thresher.commands.options.config_options` (which makes the options from the same
field metadata): every field whose value differs from its default becomes its option, nested configs
are flattened as the command line flattens them, and ``positional`` fields come first as arguments.
A test parses the result with the real command line and gets the same config back.
"""

from __future__ import annotations

import dataclasses
import shlex
import typing
from collections.abc import Iterable
from typing import Any

from thresher.config_field import field_default, field_type, flag_of, nested_config, without_none


def config_arguments(config: Any, *, positional: Iterable[str] = (), skip: Iterable[str] = ()) -> list[str]:
    """``config`` as command-line words: positional values, then ``--flag value`` for every field that
    is not at its default. ``skip`` names fields (of any nesting level) left out."""
    cls = type(config)
    positional, skipped = list(positional), set(skip)
    words = [_word(getattr(config, name)) for name in positional]
    return words + _options(cls, config, set(positional) | skipped, skipped)


def shell_line(words: Iterable[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)


def _options(cls: type, config: Any, leave_out: set[str], skipped: set[str]) -> list[str]:
    out: list[str] = []
    for field in dataclasses.fields(cls):
        if field.name in leave_out or not field.init or field.metadata.get("cli") is False:
            continue
        value = getattr(config, field.name)
        nested = nested_config(cls, field)
        if nested is not None:
            out += _options(nested, value, skipped, skipped)
            continue
        default = field_default(field)
        if default is not dataclasses.MISSING and _same(value, default):
            continue
        out += _option(cls, field, value)
    return out


def _option(cls: type, field: dataclasses.Field, value: Any) -> list[str]:
    flag = field.metadata.get("flag", "--" + field.name.replace("_", "-"))
    hint = without_none(field_type(cls, field))
    if hint is bool:
        if "/" in flag:  # --on/--off
            on, off = flag.split("/")
            return [on if value else off]
        if value:
            return [flag_of(field)]
        # Off: a flag that is on by default has --no-…; one that is off by default is just left out.
        return ["--no-" + flag_of(field)[2:]] if field_default(field) is True else []
    if value is None:
        raise ValueError(f"{field.name}: None is not a value the command line can give")
    args = typing.get_args(hint)
    if typing.get_origin(hint) is tuple and args == (str, ...):  # repeatable
        return [f"{flag}={item}" for item in value]
    return [flag, _word(value)]


def _word(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_word(v) for v in value)
    if isinstance(value, float):
        return repr(value)  # exact: the parsed float is the same number
    return str(value)


def _same(value: Any, default: Any) -> bool:
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) == list(default)
    return value == default
