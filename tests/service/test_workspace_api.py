"""The workspace's own reads over HTTP: status and the SQL console."""

from __future__ import annotations

from tests.service.conftest import HEADERS, make_client


def test_status_and_the_sql_console_read_a_snapshot_of_the_catalog(mnist_lt):
    with make_client(mnist_lt.root) as client:
        status = client.get("/api/status").json()
        assert [s["id"] for s in status["sources"]] == ["mnist-lt"]
        ok = client.post("/api/query", json={"sql": "SELECT count(*) AS n FROM samples"}, headers=HEADERS)
        assert ok.status_code == 200 and ok.json()["rows"] == [[1703]] and ok.json()["columns"] == ["n"]
        refused = client.post("/api/query", json={"sql": "DELETE FROM samples"}, headers=HEADERS)
        assert refused.status_code == 400 and "read-only" in refused.json()["detail"]
        path = client.post(
            "/api/query", json={"sql": "SELECT * FROM read_text('/etc/hostname')"}, headers=HEADERS
        )
        assert path.status_code == 400 and "never a file" in path.json()["detail"]
        assert client.post("/api/query", json={"sql": 5}, headers=HEADERS).status_code == 422
