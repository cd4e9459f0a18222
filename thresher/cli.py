"""The `thresher` command line: one click command per row of the command table (:mod:`thresher.api`).

Any :class:`ThresherError` becomes ``error: <one line>`` on stderr and exit code 2; click's own usage
errors also exit 2. The table imports only config dataclasses, so ``thresher --help`` stays fast.
"""

from __future__ import annotations

import os

import click

from thresher.api import COMMANDS
from thresher.catalog.workspace import Workspace
from thresher.commands.build import click_command, show_library_warnings
from thresher.commands.serve import serve_cmd
from thresher.errors import ThresherError

# Progress is reported as events and drawn by thresher itself (thresher/progress.py); the bars that
# datasets and huggingface_hub draw on their own would interleave with them.
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

# Commands that are front ends themselves, not rows of the table (a test keeps the two in step).
FRONT_END_COMMANDS = ("serve",)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):  # noqa: ANN201 - click's signature
        try:
            return super().invoke(ctx)
        except ThresherError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted: finished parts are kept; run the same command again to resume", err=True)
            ctx.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--workspace",
    "-w",
    envvar="THRESHER_WORKSPACE",
    default="thresher-workspace",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Workspace folder (also THRESHER_WORKSPACE).",
)
@click.version_option(package_name="thresher")
@click.pass_context
def main(ctx: click.Context, workspace: str) -> None:
    """thresher: curate, prune, publish, train on and evaluate image datasets for generative models."""
    ctx.obj = Workspace(workspace)
    show_library_warnings()


def _workspace_option(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``--workspace`` after the subcommand (``thresher demo --workspace X``) overrides the group's."""
    if value is not None:
        ctx.obj = Workspace(value)


def _add(command: click.Command) -> None:
    command.params.append(
        click.Option(
            ["--workspace", "-w"],
            type=click.Path(file_okay=False),
            expose_value=False,
            is_eager=True,
            callback=_workspace_option,
            help="Workspace folder (overrides the one given before the command).",
        )
    )
    main.add_command(command)


for _row in COMMANDS.values():
    _add(click_command(_row))
_add(serve_cmd)


if __name__ == "__main__":  # `python -m thresher.cli`, as `accelerate launch -m thresher.cli` runs it
    main()
