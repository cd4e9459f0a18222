"""What `thresher serve` is asked (light: the command line reads these fields)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from thresher.config_field import setting
from thresher.errors import ThresherError
from thresher.executors.config import EXECUTOR_KINDS, SlurmResources

EXECUTOR_NAMES = EXECUTOR_KINDS
MAX_BODY_BYTES = 1 << 20  # a request body: a job's config, a lasso polygon, an SQL query


@dataclass
class ServeConfig:
    host: str = setting("127.0.0.1", "Interface to listen on; any other than loopback requires a token.")
    port: int = setting(8765, "Port to listen on.")
    workers: int = setting(2, "Jobs that run at once, each in a process of its own.")
    executor: str = setting(
        "local",
        "Where jobs run: processes on this machine, or Slurm jobs (the server stays here).",
        choices=EXECUTOR_NAMES,
    )
    # What each job asks of Slurm with --executor slurm (partition, GPUs, time, memory, sbatch options).
    slurm: SlurmResources = setting(default_factory=SlurmResources)
    allow_path: tuple[str, ...] = setting(
        (),
        "A folder outside the workspace that jobs may read data from (ingest a local folder); repeatable. "
        "No other path outside the workspace is accepted in a request.",
        flag="--allow-path",
        metavar="DIR",
    )
    open_browser: bool = setting(
        False, "Open the web app in a browser once the server listens.", flag="--open"
    )

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ThresherError(f"--port must lie in 1..65535, got {self.port}")
        if self.workers < 1:
            raise ThresherError(f"--workers must be at least 1, got {self.workers}")
        if self.executor not in EXECUTOR_NAMES:
            raise ThresherError(
                f"unknown --executor {self.executor!r}; choose one of: {', '.join(EXECUTOR_NAMES)}"
            )

    def executor_options(self, workspace: object) -> dict[str, object]:
        """What :func:`thresher.executors.get_executor` takes for this server's executor."""
        return {"resources": self.slurm, "workspace": workspace} if self.executor == "slurm" else {}

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False
