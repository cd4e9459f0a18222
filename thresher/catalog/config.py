"""What the workspace's read commands are asked: `thresher query` and `thresher status` (light: the
command line and the service read these fields)."""

from __future__ import annotations

from dataclasses import dataclass

from thresher.config_field import setting
from thresher.errors import ThresherError

QUERY_FORMATS = ("table", "csv", "json")


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
