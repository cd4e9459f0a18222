"""Registries that find their entries themselves: adding an entry is adding one module.

A registry (score methods, embedder families, evaluation feature extractors) names a package of light
modules, each declaring its entries in a list under an agreed name (``METHODS``, ``FAMILIES``), and
optionally an environment variable naming more modules, comma-separated: a plugin outside thresher is
then one file on ``sys.path``. Nothing keeps a list of the modules, so none can be forgotten; the modules
must import nothing heavy at the top (torch, scikit-learn load inside the functions that need them),
because every registry is read when the command line builds its options.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from thresher.errors import ThresherError

T = TypeVar("T")


def declarations(package: str, attribute: str, environment_variable: str | None = None) -> list[Any]:
    """Every entry of ``attribute`` in the modules of ``package`` (by module name), then in the modules
    that ``environment_variable`` names. A named module that cannot be imported is an ImportError that
    says which variable named it: every command would fail the same way, so it is never skipped."""
    found: list[Any] = []
    root = importlib.import_module(package)
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        found.extend(getattr(importlib.import_module(f"{package}.{info.name}"), attribute, ()))
    names = os.environ.get(environment_variable, "") if environment_variable else ""
    for name in (n.strip() for n in names.split(",")):
        if not name:
            continue
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ImportError(
                f"{environment_variable} names {name!r}, which cannot be imported: {exc}"
            ) from exc
        if not hasattr(module, attribute):
            raise ImportError(f"{environment_variable} names {name!r}, which declares no {attribute}")
        found.extend(getattr(module, attribute))
    return found


class Registry(Generic[T]):
    """Entries by their ``name``, read from their declarations on first use; ``reset`` reads them again
    (a test that registers one). Two entries of one name, or what ``check`` refuses, fail loudly."""

    def __init__(
        self,
        package: str,
        attribute: str,
        environment_variable: str,
        kind: str,
        check: Callable[[dict[str, T]], None] | None = None,
    ) -> None:
        self.package, self.attribute, self.environment_variable = package, attribute, environment_variable
        self.kind, self.check = kind, check
        self._entries: dict[str, T] | None = None

    def entries(self) -> dict[str, T]:
        if self._entries is None:
            found: dict[str, T] = {}
            for entry in declarations(self.package, self.attribute, self.environment_variable):
                if entry.name in found:
                    raise ValueError(f"{self.kind} {entry.name!r} is declared twice")
                found[entry.name] = entry
            if self.check is not None:
                self.check(found)
            self._entries = found
        return self._entries

    def reset(self) -> None:
        self._entries = None


class Families(Registry[T]):
    """A registry of name families: a name is ``family[:spec][?option=value&…]`` (embedder and feature
    extractor names), and every entry has a ``usage`` (its name syntax) and a ``help`` phrase."""

    def of(self, name: str) -> T:
        """The family of ``name``; an unknown one is a one-line error listing the known ones."""
        known = self.entries()
        family = known.get(name.strip().partition("?")[0].partition(":")[0])
        if family is None:
            usages = ", ".join(f.usage for f in known.values())
            raise ThresherError(f"unknown {self.kind} {name!r}; choose one of: {usages}")
        return family

    def listing(self) -> str:
        """Every family's name syntax and what it is, for an option's help."""
        return "; ".join(f"{f.usage} ({f.help})" for f in self.entries().values())
