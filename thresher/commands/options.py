"""Click options made from config dataclasses, so a default and its help text are written once.

Every library config is a dataclass whose fields carry their default and, in ``field(metadata=…)``, the
option's help (``help``), its flag when it differs from the field name (``flag``), older names kept as
aliases (``aliases``), allowed values (``choices``) and ``cli=False`` for fields no command exposes. The
library never imports click: the metadata is plain data, and this module turns it into options. A command
then builds its config from the parsed values in one step, which validates it (``__post_init__``).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable
from typing import Any

import click

from thresher.config_field import field_default, field_type, nested_config, without_none

F = Callable[..., Any]


def int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(
            f"expected an integer or a comma-separated list of integers, got {text!r}"
        ) from None


def float_pair(text: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(f"expected LOW,HIGH (two numbers), got {text!r}") from None
    return low, high


def _converter(hint: Any) -> tuple[Any, Callable[[Any], Any] | None, Callable[[Any], str] | None]:
    """(click type, value converter, default formatter) for a field's type."""
    base = without_none(hint)
    origin = typing.get_origin(base)
    if origin is tuple and typing.get_args(base) == (float, float):
        return str, float_pair, lambda v: ",".join(f"{x:g}" for x in v)
    if origin is list and typing.get_args(base) == (int,):
        return str, int_list, lambda v: ",".join(str(x) for x in v)
    if origin is tuple and typing.get_args(base) == (int, ...):
        return str, lambda text: tuple(int_list(text)), lambda v: ",".join(str(x) for x in v)
    if origin is tuple and typing.get_args(base) == (str, ...):  # a repeatable option
        return str, tuple, None
    if base in (int, float, str):
        return base, None, None
    raise TypeError(f"no command-line form for a field of type {hint!r}")


def config_options(cls: type, *, skip: Iterable[str] = ()) -> Callable[[F], F]:
    """A decorator adding one option per field of dataclass ``cls`` (its fields' names are the parameters)."""
    skipped = set(skip)
    decorators = []
    for field in dataclasses.fields(cls):
        meta = field.metadata
        if field.name in skipped or meta.get("cli") is False or not field.init:
            continue
        nested = nested_config(cls, field)
        if nested is not None:  # a config inside a config: its options join the command's (see ``take``)
            decorators.append(config_options(nested, skip=skip))
            continue
        flag = meta.get("flag", "--" + field.name.replace("_", "-"))
        names = [flag, *meta.get("aliases", ()), field.name]
        default = field_default(field)
        required = default is dataclasses.MISSING
        default = None if required else default
        kwargs: dict[str, Any] = {"help": meta.get("help"), "required": required}
        full_hint = field_type(cls, field)
        hint = without_none(full_hint)
        if hint is bool and "/" in flag:  # --on/--off, and None when neither is given
            names = [flag, field.name]
            kwargs.update(default=default, show_default=default is not None)
        elif hint is bool:
            if default:  # on by default: --x/--no-x
                names = [f"{flag}/--no-{flag[2:]}", field.name]
                kwargs.update(default=True, show_default=True)
            else:
                kwargs.update(is_flag=True, default=False)
        else:
            click_type, convert, show = _converter(full_hint)
            if "choices" in meta:
                click_type = click.Choice([str(c) for c in meta["choices"]])
            elif "bounds" in meta and without_none(full_hint) is int:
                low, high = meta["bounds"]
                click_type = click.IntRange(low, high)
            kwargs["type"] = click_type
            if typing.get_args(without_none(full_hint)) == (str, ...):
                kwargs["multiple"] = True
            elif default is not None:
                kwargs["default"] = show(default) if show else default
                kwargs["show_default"] = True
            if convert is not None:
                kwargs["callback"] = _callback(convert)
            if "metavar" in meta:
                kwargs["metavar"] = meta["metavar"]
        decorators.append(click.option(*names, **kwargs))

    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


def _callback(convert: Callable[[Any], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    def callback(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        return None if value is None else convert(value)

    return callback


def take(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """Pop the values that belong to ``cls``'s fields out of ``values``, building its nested configs from
    theirs first (the inverse of the flattening in :func:`config_options`)."""
    out: dict[str, Any] = {}
    for field in dataclasses.fields(cls):
        nested = nested_config(cls, field) if field.metadata.get("cli", True) else None
        if nested is not None:
            out[field.name] = nested(**take(nested, values))
    names = {f.name for f in dataclasses.fields(cls)} - set(out)
    out.update({name: values.pop(name) for name in list(values) if name in names})
    return out
