"""The client-server ingress: one FastAPI app, served by a Ray Serve deployment.

`build_app` is the Serve application builder for both `dendray run` and
`serve deploy ingress/serve_config.yaml`: it prepares the database, makes
sure the actor pools exist, and binds the ingress deployment.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from ray import serve
from ray.serve import Application

from dendray.config import Config
from ingress.client import ROUTERS, UNVERSIONED
from ingress.cors import CorsMiddleware
from ingress.errors import install_error_handlers
from ingress.federation import ROUTERS as FEDERATION_ROUTERS
from ingress.services import init_services

CLIENT_PREFIXES = ("/_matrix/client/v3", "/_matrix/client/r0")


def make_fastapi_app() -> FastAPI:
    app = FastAPI(title="dendray", docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)
    app.add_middleware(CorsMiddleware)
    for router in UNVERSIONED:
        app.include_router(router)
    for router, prefixes in ROUTERS:
        for prefix in prefixes or CLIENT_PREFIXES:
            app.include_router(router, prefix=prefix)
    for router in FEDERATION_ROUTERS:
        app.include_router(router)
    return app


fastapi_app = make_fastapi_app()


# Long-polling /sync holds a request for its whole timeout: the replica must
# accept thousands at once.
@serve.deployment(max_ongoing_requests=4096, max_queued_requests=-1)
@serve.ingress(fastapi_app)
class ClientIngress:
    def __init__(self, config: dict[str, Any]) -> None:
        cfg = Config.from_dict(config)
        fastapi_app.state.max_body = cfg.limits.max_request_bytes
        init_services(cfg)


def bind_ingress(config: Config, replicas: int = 1) -> Application:
    return ClientIngress.options(num_replicas=replicas).bind(config.to_dict())


def build_app(args: dict[str, Any]) -> Application:
    """Serve builder for `serve deploy`: args `config` (path) and optional `dsn`."""
    from dendray.server import prepare

    config = prepare(args["config"], dsn=args.get("dsn"))
    return bind_ingress(config, int(args.get("replicas", 1)))

