"""One click command per row of the command table (:mod:`thresher.api`).

A row's config fields become the command's options (:func:`thresher.commands.options.config_options`;
``arguments`` become positional arguments); the command builds the config from the parsed values
(validating it), runs the row's function with progress drawn as tqdm bars, and prints the result's
``lines()``. Nothing here knows a particular command.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from thresher.api import Command
from thresher.catalog.workspace import Workspace
from thresher.commands.options import config_options, take
from thresher.progress import reporting
from thresher.progress_bars import TqdmSink


def click_command(row: Command) -> click.Command:
    def callback(**values: Any) -> None:
        ws: Workspace = click.get_current_context().obj
        config = row.config(**take(row.config, values))
        with reporting(TqdmSink()):
            result = row.run(ws, config)
        for line in result.lines():
            click.echo(line)

    function = config_options(row.config, skip=row.arguments)(callback)
    for name in reversed(row.arguments):
        function = click.argument(name)(function)
    return click.command(row.name, help=row.help)(function)


class _WarningLines(logging.Handler):
    """``warning: <message>`` on stderr for the library's warnings (``logging.getLogger("thresher…")``)."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"{record.levelname.lower()}: {record.getMessage()}", file=sys.stderr, flush=True)


def show_library_warnings() -> None:
    logger = logging.getLogger("thresher")
    if not any(isinstance(h, _WarningLines) for h in logger.handlers):
        logger.addHandler(_WarningLines(level=logging.WARNING))
        logger.propagate = False
