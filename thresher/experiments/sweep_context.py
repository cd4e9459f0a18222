"""What a sweep is made of before anything runs: its sources checked, the identities its prerequisites
will have (so the cells' keys are known from the settings alone), and its spec as recorded. Shared by the
runner (:mod:`thresher.experiments.sweep`) and the Slurm submission (:mod:`thresher.experiments.sweep_slurm`).
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError
from thresher.experiments.sweep_cells import SweepContext, expand
from thresher.experiments.sweep_spec import MethodSpec, SweepSpec

CLUSTER_IDENTITY = ("embedder", "k", "seed", "restarts", "niter", "init")


def preflight(ws: Workspace, spec: SweepSpec, max_cells: int) -> None:
    """Everything about the spec that can be checked before any work is done or written (the spec file
    itself was checked when it was read): the grid's size, the sources, the embedder's name, ``k`` and the
    pretraining's batch against the source's rows, and the models against the image size."""
    from thresher.embedders.registry import check_embedder_name
    from thresher.experiments.sweep_cells import check_cell_count
    from thresher.train.config import PretrainConfig, TrainConfig

    check_cell_count(spec, max_cells)
    check_sources(ws, spec)
    try:
        check_embedder_name(spec.embedder)
    except ThresherError as exc:
        raise spec.error("embedder", str(exc)) from None
    rows = source_rows(ws, spec.source)
    if rows is not None and spec.k > rows:
        raise spec.error("k", f"k {spec.k} is more clusters than {spec.source} has rows ({rows})")
    _check_model(
        spec, "train", TrainConfig(**spec.model_settings), spec.data_settings.get("image_size"), spec.vae
    )
    if spec.needs_pretrain:
        pretrain = PretrainConfig(**spec.pretrain_settings)
        if rows is not None and pretrain.batch_size > rows:
            raise spec.error("pretrain", f"the pretraining's batch of {pretrain.batch_size} is more than "
                             f"{spec.source}'s {rows} rows")  # fmt: skip
        _check_model(spec, "pretrain", pretrain, pretrain.image_size, pretrain.vae)


def source_rows(ws: Workspace, source: str) -> int | None:
    """The ok rows of ``source`` (ingested, or a built-in's known count), None when unknown."""
    name = source.removeprefix("builtin:")
    if ws.exists:
        try:
            return int(ws.source_row(name)["n_ok"])
        except ThresherError:
            pass
    if source.startswith("builtin:"):
        from thresher.catalog.source_loaders import BUILTIN_ROWS

        return BUILTIN_ROWS.get(name)
    return None


def _check_model(spec: SweepSpec, key: str, model: Any, side: int | None, vae: str | None) -> None:
    """The DiT of ``model`` (a TrainConfig or PretrainConfig: size, width/depth/heads) must be valid, and
    tile the image size when one is given (in pixels, or the latents of thresher-ae); checked by the code
    that builds the model."""
    from thresher.train.autoencoder import AUTOENCODER_NAME, FACTOR
    from thresher.train.model import dit_config

    factor = {None: 1, AUTOENCODER_NAME: FACTOR}.get(vae)  # another VAE's factor is known once it loads
    if side is not None and factor is not None and side % factor:
        raise spec.error(key, f"{key}: image_size {side} is not divisible by {vae}'s factor {factor}")
    sample = side // factor if side is not None and factor is not None else _patch(model.model_size)
    try:
        dit_config(model.model_size, 1, sample, None, width=model.width, depth=model.depth, heads=model.heads)
    except ThresherError as exc:
        raise spec.error(key, f"{key}: {exc}") from None


def _patch(model_size: str) -> int:
    tail = str(model_size).rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() and int(tail) > 0 else 1


def check_sources(ws: Workspace, spec: SweepSpec) -> None:
    """A source the sweep cannot ingest itself must already be in the workspace (checked before any work)."""
    for key in ("source", "reference"):
        value = getattr(spec, key)
        if value.startswith("builtin:"):
            from thresher.catalog.source_loaders import BUILTINS

            if value.removeprefix("builtin:") not in BUILTINS:
                raise spec.error(key, f"unknown built-in {value!r}; built-ins: {', '.join(BUILTINS)}")
            continue
        try:
            ws.source_row(value)
        except ThresherError:
            raise spec.error(key, f"source {value!r} is not ingested: run `thresher ingest` first") from None


def cluster_settings(spec: SweepSpec, source: str, embedder: str):  # -> (ClusterRunConfig, identity)
    from thresher.curate.config import ClusterRunConfig

    config = ClusterRunConfig(
        ks=[spec.k], source=source, embedder=embedder, restarts=spec.kmeans_restarts, seed=spec.seed
    )
    identity = {"embedder": embedder, "k": spec.k, "seed": config.seed, "restarts": config.restarts,
                "niter": config.niter, "init": config.init}  # fmt: skip
    return config, identity


def planned_context(ws: Workspace, spec: SweepSpec) -> SweepContext | None:
    """The context the prerequisites resolve, from the settings alone (nothing runs, nothing is
    written), so the cells' keys are known before submitting them; None while the source is not
    ingested (then no cell of it can be done)."""
    # A built-in's id is its name (catalog/source_loaders.default_source_id; not imported: it loads datasets).
    source = spec.source.removeprefix("builtin:")
    if not ws.exists:
        return None
    try:
        row = ws.source_row(source)
    except ThresherError:
        return None
    from thresher.curate.config import EmbedRunConfig
    from thresher.embedders import with_background

    embed = EmbedRunConfig(embedder=spec.embedder, source=source, num_workers=0, seed=spec.seed)
    _, cluster_identity = cluster_settings(spec, source, with_background(embed.embedder, embed.background))
    pretrain_identity = None
    if spec.needs_pretrain:
        from thresher.train.config import PretrainConfig

        pretrain_identity = PretrainConfig(source=source, **spec.pretrain_settings).identity()
    return SweepContext(source, row["revision"], cluster_identity, pretrain_identity)


def spec_record(spec: SweepSpec) -> dict[str, Any]:
    record = asdict(spec)
    record.pop("lines", None)
    return record


def spec_from_record(record: dict[str, Any]) -> SweepSpec:
    """The spec a sweep recorded (:func:`spec_record`) as the runner read it: keys this thresher does not
    know are left out, keys the record lacks take their defaults."""
    known = {f.name for f in fields(SweepSpec)} - {"methods"}
    method_keys = {f.name for f in fields(MethodSpec)}
    methods = [MethodSpec(**{k: v for k, v in m.items() if k in method_keys}) for m in record["methods"]]
    return SweepSpec(**{k: v for k, v in record.items() if k in known}, methods=methods)


def grid_labels(record: dict[str, Any]) -> list[tuple[str, float, int]] | None:
    """(series, ratio, seed) of every cell of a recorded spec, in grid order: the positions of its
    ``sweep_members``, so a cell it shares with another sweep is shown with this sweep's own label (the
    cell's row keeps the label of the sweep that ran it). The grid's order and labels depend on the spec
    alone, so the context here only fills the keys, which are not used. None when the record no longer
    expands (a method since removed, a field since renamed)."""
    try:
        spec = spec_from_record(record)
        cells = expand(spec, SweepContext(spec.source, None, {}, None))
    except (ThresherError, TypeError, KeyError, ValueError):
        return None
    return [(c.series, c.ratio, c.seed) for c in cells]


def own_series(cell: dict[str, Any], labels: list[tuple[str, float, int]] | None) -> str:
    """A finished cell's series under this sweep's own label (:func:`grid_labels`, by the cell's
    ``position`` in this sweep's grid); its row may carry the label of another sweep that shares the cell and
    ran it first. The row's own label where the position does not fit (a record that no longer expands)."""
    d = cell["description"]
    position = cell.get("position")
    if labels is not None and isinstance(position, int) and 0 <= position < len(labels):
        own, ratio, seed = labels[position]
        if (ratio, seed) == (float(d["ratio"]), int(d["seed"])):  # the same cell of the grid, as it must be
            return own
    return str(d["series"])
