"""The live explorer: a small Starlette app over one :class:`~fl_node.explorer.views.Explorer`, served by uvicorn.

Read-only: every route is a GET. Pages poll ``api/head.json`` and swap in fresh content when a
block arrives. Any failure becomes a page that says what is wrong; the server keeps running.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from fl_node.explorer.render import Renderer, static_files
from fl_node.explorer.views import Explorer, PageError

log = logging.getLogger(__name__)

DEFAULT_PORT = 8600
HOST = "127.0.0.1"


def create_app(explorer: Explorer) -> Starlette:
    """The ASGI app serving ``explorer``'s pages, static files, model downloads and the head block."""
    renderer = Renderer(live=True)
    statics = static_files()

    async def page(request: Request, template: str, build: Callable[[], dict[str, Any]]) -> Response:
        try:
            context = await run_in_threadpool(build)
        except PageError as exc:
            return HTMLResponse(renderer.error(exc.status, str(exc)), status_code=exc.status)
        except Exception as exc:  # a failure of the chain or the store: say so, stay up
            log.exception("page %s failed", request.url.path)
            return HTMLResponse(renderer.error(500, f"{type(exc).__name__}: {exc}"), status_code=500)
        return HTMLResponse(renderer.render(template, context))

    async def overview(request: Request) -> Response:
        return await page(request, "overview.html", explorer.overview)

    async def members(request: Request) -> Response:
        return await page(request, "members.html", explorer.members)

    async def task(request: Request) -> Response:
        return await page(request, "task.html", lambda: explorer.task(request.path_params["task_id"]))

    async def round_(request: Request) -> Response:
        return await page(request, "round.html", lambda: explorer.round(request.path_params["round_id"]))

    async def audit(request: Request) -> Response:
        raw = request.query_params.get("task")
        if raw is not None and not raw.isdigit():
            return HTMLResponse(renderer.error(400, f"Not a task id: {raw!r}"), status_code=400)
        run = request.query_params.get("run") == "1"
        return await page(request, "audit.html", lambda: explorer.audit(int(raw) if raw else None, run))

    async def head(request: Request) -> Response:
        try:
            block = await run_in_threadpool(explorer.head)
        except PageError as exc:
            return JSONResponse({"head": None, "error": str(exc)}, status_code=exc.status)
        return JSONResponse({"head": block}, headers={"Cache-Control": "no-store"})

    async def static(request: Request) -> Response:
        path = statics.get(request.path_params["name"])
        if path is None or not path.is_file():
            return HTMLResponse(renderer.error(404, f"No static file {request.path_params['name']}"), status_code=404)
        return FileResponse(path)

    async def artifact(request: Request) -> Response:
        digest = request.path_params["digest"]
        try:
            path = await run_in_threadpool(explorer.artifact, digest)
        except PageError as exc:
            return HTMLResponse(renderer.error(exc.status, str(exc)), status_code=exc.status)
        return FileResponse(path, media_type="application/octet-stream", filename=f"{digest}.bin")

    routes = [
        Route("/", lambda request: RedirectResponse("index.html")),
        Route("/index.html", overview),
        Route("/members.html", members),
        Route("/task-{task_id:int}.html", task),
        Route("/round-{round_id:int}.html", round_),
        Route("/audit.html", audit),
        Route("/api/head.json", head),
        Route("/static/{name}", static),
        Route("/artifacts/{digest}.bin", artifact),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return HTMLResponse(renderer.error(404, f"No page at {request.url.path}."), status_code=404)

    return Starlette(routes=routes, exception_handlers={404: not_found})


class ExplorerServer:
    """uvicorn serving an explorer on 127.0.0.1, in the foreground (:meth:`run`) or a thread (:meth:`start`)."""

    def __init__(self, explorer: Explorer, port: int = DEFAULT_PORT):
        config = uvicorn.Config(create_app(explorer), host=HOST, port=port, log_level="warning", access_log=False, ws="none")
        self.server = uvicorn.Server(config)
        self.port = port
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/"

    def run(self) -> None:
        """Serve until Ctrl-C."""
        self.server.run()

    def start(self, timeout_s: float = 20.0) -> ExplorerServer:
        """Serve from a background thread; return once the socket is listening."""
        self._thread = threading.Thread(target=self.server.run, name="explorer", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the explorer did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop a server started with :meth:`start`."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
