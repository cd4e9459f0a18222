"""The `thresher` command line: a thin layer that parses options into config dataclasses and calls the library.

Any :class:`ThresherError` becomes ``error: <one line>`` on stderr and exit code 2; click's own usage
errors also exit 2. Commands import their library modules lazily so ``thresher --help`` stays fast.
"""

from __future__ import annotations

import click

from thresher.catalog.workspace import Workspace
from thresher.errors import ThresherError


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


# Subcommands live in thresher.commands, one module per stage.
from thresher.commands import curate as _curate  # noqa: E402
from thresher.commands import evaluate as _evaluate  # noqa: E402
from thresher.commands import experiments as _experiments  # noqa: E402
from thresher.commands import train as _train  # noqa: E402


def _workspace_option(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``--workspace`` after the subcommand (``thresher demo --workspace X``) overrides the group's."""
    if value is not None:
        ctx.obj = Workspace(value)


for _command in (
    _curate.ingest,
    _curate.embed,
    _curate.cluster,
    _curate.score,
    _curate.select_cmd,
    _curate.publish,
    _curate.query,
    _curate.status,
    _train.pretrain_cmd,
    _train.train_cmd,
    _train.reweight_cmd,
    _train.store_cmd,
    _train.sample_cmd,
    _evaluate.evaluate_cmd,
    _evaluate.report_cmd,
    _experiments.sweep_cmd,
    _experiments.demo_cmd,
):
    _command.params.append(
        click.Option(
            ["--workspace", "-w"],
            type=click.Path(file_okay=False),
            expose_value=False,
            is_eager=True,
            callback=_workspace_option,
            help="Workspace folder (overrides the one given before the command).",
        )
    )
    main.add_command(_command)


if __name__ == "__main__":  # `python -m thresher.cli`, as `accelerate launch -m thresher.cli` runs it
    main()
