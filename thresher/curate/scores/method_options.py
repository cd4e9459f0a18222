"""Score-method options as config fields, each declared once, by the method that takes it.

A method's own parameters are a dataclass of :func:`~thresher.config_field.setting` fields
(``ScoreMethod.options``: dedup's ``epsilon``, the gradient methods' ``pretrain``/``params``/``checkpoint``).
A config that serves many methods (``SelectConfig``, ``ScoreRunConfig``) is its general settings plus the
union of its methods' options, assembled once by :func:`config_with_options`, so the command line lists
every option with its one help text and default, and the service's schema sees them. Two methods share an
option only by declaring it identically (type, default, help, choices): anything else fails loudly when the
registry is read. On the assembled config only the chosen method's own options may be set
(:meth:`WithMethodOptions.check_method_options`: ``--epsilon applies to dedup only``), and
:meth:`~WithMethodOptions.method_options` returns exactly those, so a card or status never shows an option
that means nothing for its method.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from typing import Any, ClassVar

from thresher.config_field import field_default, field_type, flag_of
from thresher.curate.scores.registry import ScoreMethod, get_method, merged_options, registry
from thresher.errors import ThresherError


def config_with_options(
    base: type,
    methods: Sequence[ScoreMethod],
    name: str,
    *,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
) -> type:
    """Dataclass ``name`` (in ``base``'s module): the general settings ``base`` plus a field per option of
    ``methods``. An option's help is prefixed with the methods that take it (``dedup: …``) unless all do.
    ``metadata`` updates general fields whose help or choices name the methods (``method``), by name."""
    general = {f.name: f for f in dataclasses.fields(base)}
    added = [
        (field_name, field_type(base, general[field_name]), _copy(general[field_name], **dict(update)))
        for field_name, update in (metadata or {}).items()
    ]
    options = merged_options(methods)
    for option in options:
        if option.name in general:
            raise ValueError(
                f"option {option.name!r} of {'/'.join(option.methods)} is already a setting of {base.__name__}"
            )
        text = option.field.metadata.get("help", "")
        if len(option.methods) < len(methods):
            text = f"{'/'.join(option.methods)}: {text}"
        else:  # every method takes it: a sentence of its own
            text = text[:1].upper() + text[1:]
        added.append((option.name, option.type, _copy(option.field, help=text)))
    cls = _dataclass(name, added, (base,), base.__module__, base.__doc__)
    cls.method_option_fields = tuple(option.name for option in options)
    return cls


def subset_options(cls: type, names: Collection[str], name: str) -> type:
    """Dataclass ``name`` with the fields of ``cls`` that ``names`` names (declared there once)."""
    chosen = [f for f in dataclasses.fields(cls) if f.name in names]
    fields = [(f.name, field_type(cls, f), _copy(f)) for f in chosen]
    return _dataclass(name, fields, (), cls.__module__, f"{cls.__name__}: {', '.join(sorted(names))}.")


def _copy(f: dataclasses.Field, **metadata: Any) -> Any:
    meta = {**f.metadata, **metadata}
    if f.default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=f.default_factory, metadata=meta)
    return dataclasses.field(default=f.default, metadata=meta)


def _dataclass(
    name: str, fields: list[tuple[str, Any, Any]], bases: tuple[type, ...], module: str, doc: str | None
) -> type:
    # A docstring of its own spares dataclasses rendering the signature as one (slow, at every start).
    cls = dataclasses.make_dataclass(name, fields, bases=bases, namespace={"__doc__": doc})
    cls.__module__, cls.__qualname__ = module, name  # found again by pickle and by field_type
    return cls


class WithMethodOptions:
    """The general settings of a config assembled by :func:`config_with_options`: its ``method`` and what
    the options of that method are."""

    method: str
    method_option_fields: ClassVar[tuple[str, ...]] = ()

    @property
    def score_method(self) -> ScoreMethod:
        return get_method(self.method)

    def method_config(self) -> Any:
        """The method's options dataclass, from this config's fields (validated by it)."""
        method = self.score_method
        return method.build_options({n: getattr(self, n) for n in method.option_names if hasattr(self, n)})

    def method_options(self) -> dict[str, Any]:
        """Exactly the method's own options, by name: what a score run and a subset's card record."""
        return dataclasses.asdict(self.method_config())

    def check_method_options(self) -> None:
        """Refuse an option set away from its default that the method does not take (one line naming the
        methods that do), then validate the method's own."""
        own = set(self.score_method.option_names)
        for f in dataclasses.fields(self):  # a dataclass: the general settings and the options
            foreign = f.name in self.method_option_fields and f.name not in own
            if foreign and getattr(self, f.name) != field_default(f):
                takers = [m.name for m in registry().values() if f.name in m.option_names]
                raise ThresherError(f"{flag_of(f)} applies to {'/'.join(takers)} only")
        self.method_config()
