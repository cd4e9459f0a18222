"""`thresher serve`: the command line's front end for the service (not a row of the command table: it
is a front end of the table itself)."""

from __future__ import annotations

import click

from thresher.catalog.workspace import Workspace
from thresher.commands.options import config_options, take
from thresher.service.config import ServeConfig


@click.command("serve")
@config_options(ServeConfig)
@click.pass_obj
def serve_cmd(ws: Workspace, **values) -> None:
    """Serve the workspace: a JSON API (/docs), the web app, and a queue that runs commands as jobs."""
    from thresher.service.server import serve

    serve(ws.root, ServeConfig(**take(ServeConfig, values)), say=click.echo)
