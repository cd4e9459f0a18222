"""The guard in front of every route: host, token, CSRF, body size and the security headers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.service.conftest import HEADERS, make_client
from thresher.service.config import MAX_BODY_BYTES


def test_a_state_change_without_the_csrf_header_is_refused(service):
    response = service.post("/api/jobs", json={"command": "ingest", "config": {"source": "builtin:digits"}})
    assert response.status_code == 403 and "X-Thresher-Request" in response.json()["detail"]
    form = service.post(
        "/api/jobs",
        content=b"command=ingest",
        headers={**HEADERS, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.status_code == 415  # a form post (what a hostile page can send without a preflight)
    cross = service.post("/api/jobs", json={}, headers={**HEADERS, "Origin": "http://evil.example"})
    assert cross.status_code == 403 and "cross-origin" in cross.json()["detail"]
    assert service.get("/api/jobs").json() == []


def test_a_loopback_server_answers_only_requests_for_localhost(tmp_path):
    app = make_client(tmp_path / "ws").app
    with TestClient(app, base_url="http://rebound.example:8765") as client:
        assert client.get("/api/status").status_code == 403
    with TestClient(app, base_url="http://localhost:8765") as client:
        assert client.get("/api/status").status_code == 200


def test_with_a_token_every_api_call_needs_it_and_no_response_contains_it(tmp_path):
    secret = "s3cret-token-value"
    with make_client(tmp_path / "ws", token=secret) as client:
        assert client.get("/api/status").status_code == 401
        assert client.get("/openapi.json").status_code == 401
        assert client.get("/api/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = client.get("/api/status", headers={"Authorization": f"Bearer {secret}"})
        assert ok.status_code == 200 and secret not in ok.text
        login = client.get(f"/?token={secret}", follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        assert client.get("/api/status").status_code == 200  # the cookie now carries it
        for path in ("/", "/api/status", "/api/commands", "/api/jobs", "/openapi.json", "/docs"):
            assert secret not in client.get(path).text, path
        assert client.get("/?token=wrong", follow_redirects=False).status_code == 401


def test_oversized_bodies_are_refused(service):
    big = b'{"command": "ingest", "config": {"source": "' + b"x" * MAX_BODY_BYTES + b'"}}'
    response = service.post("/api/jobs", content=big, headers={**HEADERS, "Content-Type": "application/json"})
    assert response.status_code == 413


def test_every_response_carries_a_policy_that_forbids_inline_script(service):
    for path in ("/", "/docs", "/api/status", "/static/app.js"):
        headers = service.get(path).headers
        policy = headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, path
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"


def test_request_paths_stay_in_the_workspace(service, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for command, config, field in [
        ("ingest", {"source": str(outside)}, "source"),
        ("publish", {"ref": "a@v1", "to": str(outside / "pub")}, "to"),
        ("publish", {"ref": "a@v1", "to": "../../escape"}, "to"),
    ]:
        response = service.post("/api/jobs", json={"command": command, "config": config}, headers=HEADERS)
        assert response.status_code == 422 and response.json()["field"] == field, (command, response.text)
    inside = service.post(
        "/api/jobs",
        json={"command": "publish", "config": {"ref": "a@v1", "to": "published/a"}},
        headers=HEADERS,
    )
    assert inside.status_code == 201
