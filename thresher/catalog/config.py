"""What the catalog's commands are asked: `thresher ingest`, `thresher query` and `thresher status` (light:
the command line and the service read these fields)."""

from __future__ import annotations

from dataclasses import dataclass

from thresher.catalog.names import check_name
from thresher.config_field import check_bounds, seed_setting, setting
from thresher.errors import ThresherError

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
