"""The service's application: the JSON API, its OpenAPI page, and the web app, over one workspace.

Built with FastAPI (routes, validation, the OpenAPI schema) on Starlette and served by uvicorn
(``service/server.py``). Every asset of the web app and of the API page ships in the package
(``service/static/``): nothing is fetched from another origin at run time, and the Content-Security-Policy
(``service/security.py``) would refuse it anyway.
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from thresher.catalog.snapshot import SnapshotWorkspace
from thresher.executors.base import Executor, get_executor
from thresher.service.config import MAX_BODY_BYTES, ServeConfig
from thresher.service.errors import install_error_handlers
from thresher.service.events import EventHub
from thresher.service.jobs import JobStore
from thresher.service.read_cache import ReadCache
from thresher.service.scheduler import Scheduler
from thresher.service.security import Guard
from thresher.service.state import ServiceState

STATIC = Path(__file__).with_name("static")


def create_app(
    workspace: str | os.PathLike[str],
    config: ServeConfig | None = None,
    *,
    token: str | None = None,
    executor: Executor | None = None,
) -> Guard:
    """The ASGI application (FastAPI behind the guard). The scheduler starts with the application's
    lifespan, so a test client or uvicorn starts and stops it."""
    config = config or ServeConfig()
    root = Path(workspace).absolute()
    ws = SnapshotWorkspace(root)
    store = JobStore(root / "jobs")
    hub = EventHub()
    scheduler = Scheduler(root, store, executor or get_executor(config.executor), config.workers, hub)
    state = ServiceState(
        ws=ws,
        store=store,
        scheduler=scheduler,
        hub=hub,
        allowed_paths=tuple(Path(p).expanduser().absolute() for p in config.allow_path),
        token=token,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        scheduler.start()
        try:
            yield
        finally:
            scheduler.stop()
            ws.snapshots.close()

    app = FastAPI(
        title="thresher",
        summary="Dataset curation for generative image models: the workspace as an API.",
        docs_url=None,  # our own /docs page: FastAPI's loads Swagger UI from a CDN and runs inline script
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.service = state
    install_error_handlers(app)

    from thresher.service import routes_jobs, routes_workspace

    app.include_router(routes_jobs.router)
    app.include_router(routes_workspace.router)
    _add_optional_routers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html", media_type="text/html")

    @app.get("/", include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text())

    cached = ReadCache(app, stamp=lambda: ws.snapshots.current().stamp)
    return Guard(cached, token=token, loopback=config.loopback, max_body=MAX_BODY_BYTES)


def service_state(app: object) -> object:
    """The service state behind the middleware stack create_app returns (Guard → ReadCache → FastAPI)."""
    while not isinstance(app, FastAPI):
        app = app.app  # type: ignore[attr-defined]
    return app.state.service


def _add_optional_routers(app: FastAPI) -> None:
    """Route modules beside the core ones (reads of the curator's pages, the embedding map): each module
    under ``service/`` named ``routes_*.py`` that defines ``router``."""
    import importlib
    import pkgutil

    import thresher.service as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("routes_") and info.name not in ("routes_jobs", "routes_workspace"):
            module = importlib.import_module(f"thresher.service.{info.name}")
            app.include_router(module.router)
