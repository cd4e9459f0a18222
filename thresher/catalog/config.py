"""What the catalog's commands are asked: `thresher ingest`, `query`, `status`, `rm` and `mv` (light: the
command line and the service read these fields)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from thresher.catalog.names import check_name
from thresher.catalog.subsets import parse_subset_ref
from thresher.config_field import check_bounds, seed_setting, setting
from thresher.errors import ConfigError, ThresherError

QUERY_FORMATS = ("table", "csv", "json")
DEFAULT_MAX_PIXELS = 89_478_485  # PIL's own default decompression-bomb limit


@dataclass
class IngestConfig:
    source: str = setting(
        help="A Hub id, an image folder, Parquet file/glob, a save_to_disk folder, or builtin:NAME.",
        path="read",
    )
    name: str | None = setting(None, "Source id in the workspace (default: derived from SOURCE).")
    config: str | None = setting(None, "Hub dataset configuration.")
    split: str | None = setting(None, "Split to ingest (default: train).")
    revision: str | None = setting(None, "Hub revision (branch, tag or commit) to pin.")
    label_column: str | None = setting(
        None, "Column holding class labels (default: label/labels/class when present)."
    )
    image_column: str | None = setting(None, "Column holding images (default: the first Image feature).")
    trust_remote_code: bool = setting(False, "Allow a Hub dataset's loading script to run (off by default).")
    seed: int = seed_setting(0, "Seed for generated built-in sources (mnist-lt).")
    max_pixels: int = setting(
        DEFAULT_MAX_PIXELS, "Images with more pixels are skipped (decompression bombs)."
    )
    num_proc: int = setting(
        1, "Processes that decode-check the rows (the result is the same for any number)."
    )

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.num_proc < 1:
            raise ThresherError(f"--num-proc must be at least 1, got {self.num_proc}")
        if self.max_pixels < 1:
            raise ThresherError("--max-pixels must be positive")
        if self.name is not None:
            check_name(self.name, "source name")


@dataclass
class QueryConfig:
    sql: str = setting(help="One read-only SELECT (or EXPLAIN of one).")
    fmt: str = setting("table", "Output format.", flag="--format", choices=QUERY_FORMATS)
    max_rows: int = setting(200, "Rows shown in table format.")
    timeout: float = setting(60.0, "Seconds before the query is stopped (0: no limit).")
    memory_limit: str = setting("2GB", "Memory the query may use (DuckDB's memory_limit, e.g. 500MB, 4GB).")

    def __post_init__(self) -> None:
        if self.timeout < 0:
            raise ThresherError(f"--timeout must be at least 0, got {self.timeout}")
        if self.fmt not in QUERY_FORMATS:
            raise ThresherError(f"unknown --format {self.fmt!r}; choose one of: {', '.join(QUERY_FORMATS)}")
        if self.max_rows < 1:
            raise ThresherError(f"--max-rows must be at least 1, got {self.max_rows}")


@dataclass
class StatusConfig:
    """`thresher status` takes no options; the dataclass keeps every command's shape the same."""


REMOVABLE = ("source", "subset", "run")
MOVABLE = ("subset",)


@dataclass
class RemoveConfig:
    kind: str = setting(help="What to remove: source, subset or run.", choices=REMOVABLE)
    name: str = setting(help="A source id, a subset NAME@vN (NAME alone: every version), or a run id.")
    force: bool = setting(False, "Also remove everything that depends on it (without: refuse and list it).")
    dry_run: bool = setting(False, "Print what would be removed and change nothing.")

    def __post_init__(self) -> None:
        if self.kind not in REMOVABLE:
            raise ConfigError(
                f"cannot remove a {self.kind!r}; choose one of: {', '.join(REMOVABLE)}", field="kind"
            )
        with _about("name"):
            if self.kind == "subset":
                parse_subset_ref(self.name)
            else:
                check_name(self.name, f"{self.kind} {'id' if self.kind == 'run' else 'name'}")


@dataclass
class MoveConfig:
    kind: str = setting(help="What to rename: subset.", choices=MOVABLE)
    old: str = setting(help="The subset's name (every version is renamed).")
    new: str = setting(help="Its new name.")

    def __post_init__(self) -> None:
        if self.kind not in MOVABLE:
            raise ConfigError(f"cannot rename a {self.kind!r}; only: {', '.join(MOVABLE)}", field="kind")
        with _about("old"):
            check_name(self.old, "subset name")
        with _about("new"):
            check_name(self.new, "new subset name")
            if self.old == self.new:
                raise ThresherError(f"subset {self.old!r} already has that name")


@contextlib.contextmanager
def _about(field: str) -> Iterator[None]:
    """A refusal inside names ``field`` (the service answers 422 pointing at it)."""
    try:
        yield
    except ThresherError as exc:
        raise ConfigError(str(exc), field=field) from None
