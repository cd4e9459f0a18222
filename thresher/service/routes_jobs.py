"""The job API: the command table as forms (``/api/commands``), jobs queued, followed, cancelled, retried,
and the live stream of their events (``/api/events``, Server-Sent Events)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import PlainTextResponse
from sse_starlette.sse import EventSourceResponse

from thresher.api import COMMANDS, command
from thresher.config_json import config_schema, config_to_json
from thresher.errors import ConfigError
from thresher.executors.config import ExecutorConfig
from thresher.service.paths import check_request_paths
from thresher.service.state import ServiceState

router = APIRouter(prefix="/api")


def _state(request: Request) -> ServiceState:
    return request.app.state.service


@router.get("/commands", summary="Every command of the table, with the fields of its config")
def list_commands() -> list[dict[str, Any]]:
    return [
        {
            "name": row.name,
            "help": row.help,
            "job": row.job,
            "arguments": list(row.arguments),
            "fields": config_schema(row.config),
        }
        for row in COMMANDS.values()
    ]


@router.post("/jobs", status_code=201, summary="Queue a command as a job (its config is validated first)")
def submit_job(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
    state = _state(request)
    unknown = sorted(set(body) - {"command", "config"})
    if unknown:
        raise ConfigError(f'unknown key {unknown[0]!r}: a job is {{"command": …, "config": {{…}}}}')
    if not isinstance(body.get("command"), str):
        raise ConfigError('missing "command": the name of a command, e.g. "select"', field="command")
    row = command(body["command"])
    if not row.job:
        raise ConfigError(
            f"{row.name} is answered directly (GET /api/{row.name}), not queued as a job", field="command"
        )
    config = row.build(body.get("config") or {})
    check_request_paths(row.config, config, state.ws.root, state.allowed_paths)
    _refuse_own_executor(config)
    record = state.scheduler.submit(row.name, config_to_json(config))
    return _job_view(state, record.id)


def _refuse_own_executor(config: Any) -> None:
    """A job runs where the server's ``--executor`` puts it. A request may not submit Slurm jobs of its
    own: its sbatch options (an output file, a working folder) would reach outside the workspace."""
    executor = getattr(config, "executor", None)
    if isinstance(executor, ExecutorConfig) and executor != type(executor)():
        raise ConfigError(
            "executor: a job runs where the server puts it (thresher serve --executor); its config may not "
            "set executor options",
            field="executor",
        )


@router.get("/jobs", summary="Every job, newest first, with the progress of the running ones")
def list_jobs(request: Request) -> list[dict[str, Any]]:
    state = _state(request)
    out = []
    for record in sorted(state.scheduler.jobs(), key=lambda r: r.created, reverse=True):
        view = record.as_dict()
        if record.state == "running":
            view["progress"] = state.scheduler.progress(record.id)
        out.append(view)
    return out


@router.get("/jobs/{job_id}", summary="One job: its record, progress, result and the end of its log")
def get_job(request: Request, job_id: str) -> dict[str, Any]:
    return _job_view(_state(request), job_id)


@router.get("/jobs/{job_id}/log", response_class=PlainTextResponse, summary="A job's captured log")
def get_log(request: Request, job_id: str) -> str:
    state = _state(request)
    state.scheduler.job(job_id)
    return state.store.log_tail(job_id, max_bytes=1 << 20)


@router.delete("/jobs/{job_id}", summary="Cancel a queued or running job")
def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    state = _state(request)
    state.scheduler.cancel(job_id)
    return _job_view(state, job_id)


@router.post(
    "/jobs/{job_id}/retry", status_code=201, summary="Queue a failed, cancelled or interrupted job again"
)
def retry_job(request: Request, job_id: str) -> dict[str, Any]:
    state = _state(request)
    record = state.scheduler.retry(job_id)
    return _job_view(state, record.id)


@router.get("/events", summary="Server-Sent Events: job states and progress (all jobs, or ?job=ID)")
async def events(request: Request, job: str | None = None) -> EventSourceResponse:
    state = _state(request)
    if job is not None:
        state.scheduler.job(job)  # 404 for an unknown job, before the stream starts
    queue = state.hub.subscribe(lambda e: job is None or e.get("job") == job)

    async def stream():
        try:
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=15)
                except asyncio.TimeoutError:
                    yield {"event": "ping", "data": "{}"}
                    continue
                yield {"event": event["type"], "data": json.dumps(event)}
        finally:
            state.hub.unsubscribe(queue)

    return EventSourceResponse(stream())


def _job_view(state: ServiceState, job_id: str) -> dict[str, Any]:
    record = state.scheduler.job(job_id)
    view = record.as_dict()
    view["progress"] = state.scheduler.progress(job_id)
    view["result"] = state.store.result(job_id)
    view["log_tail"] = state.store.log_tail(job_id, max_bytes=8000)
    return view
