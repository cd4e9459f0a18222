"""How the service answers a refusal: one JSON message, the status saying what kind of refusal."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from thresher.errors import ConfigError, Conflict, NotFound, ThresherError

__all__ = ["Conflict", "NotFound", "install_error_handlers"]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ThresherError)
    async def thresher_error(_request: Request, exc: ThresherError) -> JSONResponse:
        status = 400
        body: dict[str, object] = {"detail": str(exc)}
        if isinstance(exc, ConfigError):
            status = 422
            body["field"] = exc.field
        elif isinstance(exc, NotFound):
            status = 404
        elif isinstance(exc, Conflict):
            status = 409
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = first.get("msg", "invalid request")
        return JSONResponse(
            {"detail": f"{where}: {message}" if where else message, "field": where or None}, status_code=422
        )
