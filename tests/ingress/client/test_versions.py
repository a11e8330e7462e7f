"""Discovery endpoints and the error contract, through HTTP on the Ray deployment."""

from __future__ import annotations

import httpx


def test_versions_and_well_known(server) -> None:
    r = httpx.get(f"{server.client_url}/_matrix/client/versions")
    assert r.status_code == 200
    assert "v1.19" in r.json()["versions"]
    assert r.headers["access-control-allow-origin"] == "*"
    wk = httpx.get(f"{server.client_url}/.well-known/matrix/client").json()
    assert wk["m.homeserver"]["base_url"].startswith("http://127.0.0.1:")


def test_unknown_endpoint_is_unrecognized(server) -> None:
    r = httpx.get(f"{server.client_url}/_matrix/client/v3/no/such/thing")
    assert r.status_code == 404 and r.json()["errcode"] == "M_UNRECOGNIZED"
    r = httpx.delete(f"{server.client_url}/_matrix/client/versions")
    assert r.status_code == 405 and r.json()["errcode"] == "M_UNRECOGNIZED"


def test_cors_preflight(server) -> None:
    r = httpx.options(f"{server.client_url}/_matrix/client/v3/login")
    assert r.status_code == 204
    assert "Authorization" in r.headers["access-control-allow-headers"]


def test_capabilities_needs_a_token(server) -> None:
    r = httpx.get(f"{server.client_url}/_matrix/client/v3/capabilities")
    assert r.status_code == 401 and r.json()["errcode"] == "M_MISSING_TOKEN"
    r = httpx.get(f"{server.client_url}/_matrix/client/v3/capabilities",
                  headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and r.json()["errcode"] == "M_UNKNOWN_TOKEN"
