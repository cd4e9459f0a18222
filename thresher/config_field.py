"""``setting()``: a dataclass field that also describes its command-line option.

Config dataclasses are the one place a default lives. ``setting(default, help, …)`` records the default
and, as plain metadata (no click here), what :mod:`thresher.commands.options` needs to make the option:
its help, its flag where it differs from the field name, older flags kept as aliases, the allowed values,
``cli=False`` for a field no command exposes, and ``path="read"|"write"`` for a value that may name a local
file or folder (the service accepts such a value only inside the workspace or an allowed folder).
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

_NO_DEFAULT = object()

# numpy's legacy seeding (which accelerate's set_seed calls) takes 0 ≤ seed < 2³²: a larger seed was a
# traceback half-way into a command (hardening item 24), so every seed setting is bounded to that range.
SEED_BOUNDS = (0, 2**32 - 1)


def setting(
    default: Any = _NO_DEFAULT,
    help: str | None = None,  # noqa: A002 - the option's help text
    *,
    flag: str | None = None,
    aliases: Sequence[str] = (),
    choices: Sequence[Any] | None = None,
    metavar: str | None = None,
    cli: bool = True,
    path: str | None = None,
    bounds: tuple[float | None, float | None] | None = None,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    metadata: dict[str, Any] = {"cli": cli}
    if bounds is not None:  # (low, high), inclusive, None for unbounded: checked by both front ends
        metadata["bounds"] = tuple(bounds)
    if path is not None:  # "read" or "write": the value may name a file or folder (the service confines it)
        if path not in ("read", "write"):
            raise ValueError(f"path must be 'read' or 'write', not {path!r}")
        metadata["path"] = path
    if help is not None:
        metadata["help"] = help
    if flag is not None:
        metadata["flag"] = flag
    if aliases:
        metadata["aliases"] = tuple(aliases)
    if choices is not None:
        metadata["choices"] = tuple(choices)
    if metavar is not None:
        metadata["metavar"] = metavar
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if default is _NO_DEFAULT:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def seed_setting(default: int, help: str, **kwargs: Any) -> Any:  # noqa: A002
    """A seed: a non-negative integer below 2³²."""
    return setting(default, help, bounds=SEED_BOUNDS, **kwargs)


def out_of_bounds(field: dataclasses.Field, value: Any) -> str | None:
    """Why ``value`` is outside the field's bounds (one line naming its flag), None when it is inside."""
    bounds = field.metadata.get("bounds")
    if bounds is None or value is None or not isinstance(value, (int, float)):
        return None
    low, high = bounds
    if (low is not None and value < low) or (high is not None and value > high):
        return f"{flag_of(field)} must be in [{low}, {high}], got {value}"
    return None


def default_of(cls: type, name: str) -> Any:
    """The default of field ``name`` of config ``cls``: for a library-level config that must agree with the
    command's (one default, referenced, never copied)."""
    (field,) = [f for f in dataclasses.fields(cls) if f.name == name]
    value = field_default(field)
    if value is dataclasses.MISSING:
        raise ValueError(f"{cls.__name__}.{name} has no default")
    return value


def check_bounds(config: Any) -> None:
    """Raise a one-line error for the first field of ``config`` outside its bounds (for configs built in
    code or from a sweep spec, which no front end checked)."""
    from thresher.errors import ThresherError

    for field in dataclasses.fields(config):
        problem = out_of_bounds(field, getattr(config, field.name))
        if problem is not None:
            raise ThresherError(problem)


def field_type(cls: type, field: dataclasses.Field) -> Any:
    """The field's type, evaluated in its module (one field at a time, so a heavy type that only a hidden
    field uses, imported under TYPE_CHECKING, never has to be resolved)."""
    if not isinstance(field.type, str):
        return field.type
    namespace = vars(sys.modules[cls.__module__])
    return eval(field.type, {"typing": typing, **namespace})  # noqa: S307 - the annotation of our own class


def without_none(hint: Any) -> Any:
    """``int | None`` → ``int``; any other type unchanged."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def accepts_none(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)


def field_default(field: dataclasses.Field) -> Any:
    """The field's default value (a fresh one for factories), or ``dataclasses.MISSING``."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def flag_of(field: dataclasses.Field) -> str:
    """The field's command-line flag (``--keep-count`` for ``keep_count`` unless ``flag=`` says otherwise)."""
    return field.metadata.get("flag", "--" + field.name.replace("_", "-")).split("/")[0]


def nested_config(cls: type, field: dataclasses.Field) -> type | None:
    """The dataclass type of a field that holds a whole config (``TrainRunConfig.train``), else None."""
    hint = without_none(field_type(cls, field))
    return hint if dataclasses.is_dataclass(hint) else None
