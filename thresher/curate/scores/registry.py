"""The score-method registry: what every selection method needs, how it orders samples, what it keeps.

A method family is one module of :mod:`thresher.curate.scores.methods` that defines ``METHODS``, a list of
:class:`ScoreMethod`; the registry finds those modules itself (:mod:`thresher.discovery`), and the modules
that the environment variable ``THRESHER_SCORE_METHODS`` names (``pkg.mod,other.mod``), so a method is
one module, inside thresher or out. Reading them checks that methods sharing an option declare it
identically (:func:`merged_options`). Everything else is built from the declarations: ``thresher
select``'s methods, options and their validation (:mod:`thresher.curate.scores.method_options`),
``thresher score``'s gradient methods and what their runs depend on. :mod:`thresher.curate.select` never
switches on a method's name.

Every method reduces to a score run in the long Parquet format (docs/architecture.md, "Scores") whose
``order_column`` ranks the samples ascending; ``keep`` then takes the ``low`` end, the ``high`` end or the
``middle`` of every group (``nearest``/``furthest`` are the clustering method's names for low/high).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from thresher.config_field import field_default, field_type, flag_of
from thresher.discovery import Registry
from thresher.errors import ThresherError

if TYPE_CHECKING:
    from thresher.catalog.workspace import Workspace

METHODS_PACKAGE = "thresher.curate.scores.methods"
PLUGINS_VARIABLE = "THRESHER_SCORE_METHODS"
# What a method can need before it can score: a clustering of the source (``clusters``), a pretraining
# run (``pretrain``), an embedding (``embeddings``) or class labels (``labels``).
NEEDS = ("clusters", "pretrain", "embeddings", "labels")
KEEP_RULES = ("low", "middle", "high")
KEEP_ALIASES = {"nearest": "low", "furthest": "high", "low": "low", "middle": "middle", "high": "high"}
# What a gradient method measures (docs/architecture.md, 'Gradient scores'; computed by
# :mod:`thresher.curate.gradient_scoring`).
LOSS, GRADIENT_NORM, LOSS_LOG, MOSO = "loss", "gradient-norm", "loss-log", "moso"
MEASURES = (LOSS, GRADIENT_NORM, LOSS_LOG, MOSO)
# What a signal with ``params`` may differentiate (``--params``; gradient_signals.select_parameters).
PARAMETER_SUBSETS = ("all", "last-block", "final-layer")


@dataclass(frozen=True)
class GradientSignal:
    """What a gradient method measures of each sample, from a ``thresher pretrain`` run.

    ``measure``: ``loss``, the probe-averaged loss l̄(z) at one checkpoint; ``gradient-norm``, ||∇_θ l̄(z)||
    at one checkpoint; ``loss-log``, the per-epoch losses the pretraining logged (no checkpoint);
    ``moso``, the first-order MoSo score over every checkpoint. ``params``: it differentiates, over the
    parameter subset ``--params`` names. ``checkpoint``: ``--checkpoint`` picks the checkpoint it is
    measured at. Both decide the method's options and what its score run is keyed by.
    """

    measure: str
    params: bool = False
    checkpoint: bool = False

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise ValueError(f"unknown gradient measure {self.measure!r}; one of {MEASURES}")

    @property
    def uses_checkpoints(self) -> bool:
        """Whether it reads the pretraining's saved networks (all but the loss log do)."""
        return self.measure != LOSS_LOG


@dataclass
class NoOptions:
    """The options of a method that has none of its own."""


@dataclass(frozen=True)
class ScoreContext:
    """What a method's scorer gets: the method's name, the source, the seed, the clustering (when there is
    one), the method's options (an instance of its ``options`` dataclass) and the ``--groups`` asked for."""

    method: str
    source: str
    seed: int
    clustering: str | None
    options: Any = field(default_factory=NoOptions)
    groups: str = "auto"


@dataclass(frozen=True)
class ScoreMethod:
    """One selection method.

    ``scores(ws, context)`` returns the id of a finished score run for the context (computing it or reusing
    the run that has the same config). It is named by ``"module:function"`` (or given as a callable that
    imports its heavy work itself), so declaring a method stays light; :meth:`score_run` calls it.
    ``order_column`` is the score Parquet column that ranks samples, smallest first. ``default_keep`` is
    the end kept without ``--keep``. A method with ``threshold`` keeps every sample whose order key is at or
    below ``threshold(options)`` instead of a count (SemDeDup).

    ``options`` is a dataclass of the method's own parameters, fields made with
    :func:`thresher.config_field.setting` (every one with a default; the help a phrase, which the command
    line prefixes with the methods that take the option). They become ``thresher select`` options, and
    two methods may share one only by declaring it identically. ``seeded`` says whether ``context.seed``
    changes what it keeps; ``grouped`` that it scores within groups (``--groups``), so the selection keeps
    a share of every group; ``signal`` makes it a gradient method of ``thresher score``.
    """

    name: str
    summary: str
    scores: str | Callable[[Workspace, ScoreContext], str]
    needs: frozenset[str] = frozenset()
    order_column: str = "score"
    default_keep: str = "high"
    threshold: Callable[[Any], float] | None = None
    options: type = NoOptions
    citation: str = ""
    # Whether the selection depends on the seed (random draws). A sweep repeats a seeded method's selection
    # per seed and shares one selection of a deterministic method across its training seeds.
    seeded: bool = False
    grouped: bool = False
    signal: GradientSignal | None = None
    # Whether the end kept (``--keep``) means something: not where the order is a random draw, either end
    # being a uniform sample; `thresher status` then leaves it out of what determines the subset.
    keep_matters: bool = True
    # Options that record where the input came from and decide nothing (the ids' lasso): status leaves
    # them out of what determines the subset; the card still records them.
    recorded_only: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = set(self.needs) - set(NEEDS)
        if unknown:
            raise ValueError(f"method {self.name}: unknown needs {sorted(unknown)}")
        if self.default_keep not in KEEP_ALIASES:
            raise ValueError(f"method {self.name}: default_keep must be one of {sorted(KEEP_ALIASES)}")
        if not dataclasses.is_dataclass(self.options):
            raise ValueError(f"method {self.name}: options must be a dataclass, not {self.options!r}")
        required = [
            f.name for f in dataclasses.fields(self.options) if field_default(f) is dataclasses.MISSING
        ]
        if required:
            raise ValueError(f"method {self.name}: option {required[0]!r} needs a default")
        if not self.recorded_only <= set(self.option_names):
            raise ValueError(f"method {self.name}: recorded_only names options it does not have")
        if self.signal is not None and "pretrain" not in self.needs:
            raise ValueError(f"method {self.name}: a gradient signal needs a pretraining (needs 'pretrain')")

    @property
    def scorer(self) -> Callable[[Workspace, ScoreContext], str]:
        """``scores``, imported where it is named by ``"module:function"``."""
        if callable(self.scores):
            return self.scores
        module, _, attribute = self.scores.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def score_run(self, ws: Workspace, context: ScoreContext) -> str:
        """The id of the finished score run for ``context`` (see ``scores``)."""
        return self.scorer(ws, context)

    @property
    def takes_count(self) -> bool:
        """Whether the method keeps a count (ratio / keep-count), rather than what a threshold decides."""
        return self.threshold is None

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.options))

    def build_options(self, values: dict[str, Any]) -> Any:
        """The method's options from ``values`` (its own names only; the rest take their defaults). A value
        outside a field's ``choices`` is a one-line error; the dataclass validates the rest itself."""
        for f in dataclasses.fields(self.options):
            choices = f.metadata.get("choices")
            if choices is not None and f.name in values and values[f.name] not in choices:
                raise ThresherError(
                    f"{flag_of(f)} {values[f.name]!r} names nothing; choose one of: {', '.join(map(str, choices))}"
                )
        return self.options(**{k: v for k, v in values.items() if k in self.option_names})


@dataclass
class MethodOption:
    """One option as its methods declare it (``type`` resolved), and the methods that take it."""

    name: str
    type: Any
    field: dataclasses.Field
    methods: tuple[str, ...]

    def declaration(self) -> tuple[Any, Any, dict[str, Any]]:
        return self.type, field_default(self.field), dict(self.field.metadata)


def merged_options(methods: Iterable[ScoreMethod]) -> list[MethodOption]:
    """Every option of ``methods`` once, in declaration order; a ValueError where two methods declare one
    name differently."""
    merged: dict[str, MethodOption] = {}
    for method in methods:
        for f in dataclasses.fields(method.options):
            option = MethodOption(f.name, field_type(method.options, f), f, (method.name,))
            seen = merged.get(f.name)
            if seen is None:
                merged[f.name] = option
            elif seen.declaration() != option.declaration():
                raise ValueError(
                    f"option {f.name!r} of score method {method.name!r} differs from the one of "
                    f"{seen.methods[0]!r}: a shared option needs one type, default and help"
                )
            else:
                merged[f.name] = dataclasses.replace(seen, methods=(*seen.methods, method.name))
    return list(merged.values())


def _check_options(methods: dict[str, ScoreMethod]) -> None:
    merged_options(methods.values())  # two methods declaring one option differently fail here


_REGISTRY: Registry[ScoreMethod] = Registry(
    METHODS_PACKAGE, "METHODS", PLUGINS_VARIABLE, "score method", check=_check_options
)


def registry() -> dict[str, ScoreMethod]:
    """Every method, by name: the :data:`METHODS_PACKAGE` modules', then the plugins'. Read once;
    :func:`reset_registry` reads again (tests that register a method)."""
    return _REGISTRY.entries()


def reset_registry() -> None:
    _REGISTRY.reset()


def get_method(name: str) -> ScoreMethod:
    methods = registry()
    if name not in methods:
        raise ThresherError(f"unknown method {name!r}; choose one of: {', '.join(sorted(methods))}")
    return methods[name]


def gradient_methods() -> list[ScoreMethod]:
    """The methods ``thresher score`` computes: those with a gradient signal."""
    return [m for m in registry().values() if m.signal is not None]


def kept_end(rule: str, inverse: bool) -> str:
    """Which scores a selection kept, in words: ``rule`` (low | middle | high, :func:`keep_rule`), or with
    ``--inverse`` the other end of the ranking (for middle: both ends)."""
    if inverse:
        return {"low": "highest", "high": "lowest", "middle": "both ends (the middle removed)"}[rule]
    return {"low": "lowest", "high": "highest", "middle": "middle"}[rule]


def keep_rule(method: ScoreMethod, keep: str | None) -> str:
    """The keep rule (low | middle | high) that ``--keep`` asks for, or the method's default."""
    keep = method.default_keep if keep is None else keep
    if keep not in KEEP_ALIASES:
        raise ThresherError(
            f"unknown --keep {keep!r}; choose one of: nearest, middle, furthest (or low, high)"
        )
    return KEEP_ALIASES[keep]
