"""``setting()``: a dataclass field that also describes its command-line option.

Config dataclasses are the one place a default lives. ``setting(default, help, …)`` records the default
and, as plain metadata (no click here), what :mod:`thresher.commands.options` needs to make the option:
its help, its flag where it differs from the field name, older flags kept as aliases, the allowed values,
or ``cli=False`` for a field no command exposes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

_NO_DEFAULT = object()


def setting(
    default: Any = _NO_DEFAULT,
    help: str | None = None,  # noqa: A002 - the option's help text
    *,
    flag: str | None = None,
    aliases: Sequence[str] = (),
    choices: Sequence[Any] | None = None,
    metavar: str | None = None,
    cli: bool = True,
    default_factory: Callable[[], Any] | None = None,
) -> Any:
    metadata: dict[str, Any] = {"cli": cli}
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
