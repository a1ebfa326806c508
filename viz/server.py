"""Serving the dashboard: Solara's Starlette app under uvicorn, on 127.0.0.1, offline.

What ``solara run`` does, minus what a simulator must not do: it checks
PyPI for a newer version and sends usage telemetry, and its asset proxy
fetches scripts it lacks from a CDN. Here telemetry is off, the scripts come
from the ``solara-assets`` package (the CDN address points at a closed local
port), these settings are made before Solara reads them, and no version
check runs: the page needs nothing but this process.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from typing import Any

#: Solara settings fixed before it is imported (environment variables it reads once).
SOLARA_ENV = {
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",
    # Scripts and fonts come from the solara-assets package through Solara's proxy; a
    # file it lacks is asked of a closed local port, never of the internet.
    "SOLARA_ASSETS_PROXY": "true",
    "SOLARA_ASSETS_CDN": "http://127.0.0.1:9/",
    "SOLARA_THEME_LOADER": "solara",
    "SOLARA_APP": "viz.app",
}
HOST = "127.0.0.1"
#: The environment variable carrying the page's configuration (JSON) to :mod:`viz.app`.
CONFIG_ENV = "SPECBOUND_VIZ"


def free_port(host: str = HOST) -> int:
    """A port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve(source: str, sets: Mapping[str, Any], seed: int, *, host: str = HOST,
          port: int = 0) -> None:
    """Serve the page until interrupted; prints the address first (tests read it)."""
    os.environ.update(SOLARA_ENV)
    os.environ[CONFIG_ENV] = json.dumps({"source": source, "sets": dict(sets), "seed": seed})
    port = port or free_port(host)
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = host, str(port)
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            # Only now: a reader of this line (a person, a test) can load the page at once.
            print(f"specbound viz: serving http://{host}:{port}/ (Ctrl-C stops)", flush=True)

    config = uvicorn.Config("solara.server.starlette:app", host=host, port=port,
                            log_level="warning", access_log=False)
    Server(config).run()
