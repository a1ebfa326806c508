"""A lean HTTP/1.1 path for chat completions, so a step's calls cost a latency and not CPU.

Measured on the ``llm-step-100`` bench (100 calls at once, 0.2 s each, a
local server in its own process): the openai client spends about 2.3 ms of
CPU per call (building each request through httpx, the connection pool's
bookkeeping, and parsing the reply into typed models), so a step's 100 calls
put about 0.23 s of CPU on the step's critical path, more than the latency
itself. Writing the request bytes directly and reading the JSON reply costs
about 0.15 ms a call (100 calls: 0.26 s wall against 1.0-1.5 s through the
client with one pool; see ``docs/INTERNALS.md``).

Only the common case takes this path: a plain API key, an ``http`` or
``https`` base URL that no proxy applies to, and a 200 reply carrying JSON.
Everything else stays the openai client's job, with its semantics:

* a failure the client would retry (a refused or dropped connection, a
  timeout, 408/409/429/5xx) is handed to the client after the wait the
  server asked for (``Retry-After``), with one client retry fewer, so a call
  still gets ``client_retries + 1`` attempts in all;
* any other status becomes the client's own typed error, built by the client
  from the response (a 401 is ``openai.AuthenticationError``).

A kept-alive connection the server closed while idle is retried once on a
fresh connection, as HTTP clients do.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import ssl
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, NoReturn

from agents.llm_cache import post_completion

#: Seconds before a retry when the server names no ``Retry-After`` (the openai client's first backoff).
FIRST_BACKOFF = 0.5
#: The longest ``Retry-After`` honoured; a longer one is left to the client, which gives up on it.
MAX_RETRY_AFTER = 60.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where chat completions go, and the header lines every request carries."""

    scheme: str
    host: str
    port: int
    path: str
    headers: bytes

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}{self.path}"


def endpoint(client: Any) -> Endpoint | None:
    """The direct endpoint for ``client``, or None when the openai client must send everything.

    Only a plain ``openai.AsyncOpenAI`` with a static key, no custom auth, no
    default query and no proxy for its host qualifies: anything else needs
    the client's own request building.
    """
    import openai

    if type(client) is not openai.AsyncOpenAI:  # Azure and other subclasses sign requests their way
        return None
    try:
        plain = (isinstance(client.api_key, str) and client.custom_auth is None
                 and not client.default_query
                 and all(getattr(client, a, None) is None
                         for a in ("_api_key_provider", "workload_identity", "_provider")))
        headers = {**client.default_headers, **client.auth_headers}
    except AttributeError:  # another openai release: its request building is the safe choice
        return None
    parts = urllib.parse.urlsplit(str(client.base_url))
    if not plain or parts.scheme not in ("http", "https") or parts.username or parts.query:
        return None
    host = parts.hostname or ""
    if not host or _proxied(parts.scheme, host):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    lines = [f"Host: {parts.netloc}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()
              if isinstance(v, str) and k.lower() not in ("host", "connection")]  # not Omit markers
    block = ("\r\n".join(lines) + "\r\n").encode("latin-1")
    return Endpoint(parts.scheme, host, port, parts.path.rstrip("/") + "/chat/completions", block)


def _proxied(scheme: str, host: str) -> bool:
    """Whether the environment sends requests for ``host`` through a proxy (httpx would)."""
    proxies = urllib.request.getproxies()
    if not (proxies.get(scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(host)


class Retryable(Exception):
    """A failure the openai client would retry; ``wait`` is the pause before it.

    ``error`` is what the client would raise with no retry left; None (a 200
    this path cannot read) hands the call over whatever the retries.
    """

    def __init__(self, error: BaseException | None, wait: float) -> None:
        super().__init__(str(error))
        self.error = error
        self.wait = wait


class _Closed(Exception):
    """The server closed a kept-alive connection before answering."""


class Wire:
    """Kept-alive connections to one endpoint, for one event loop.

    Args:
        client: the session's ``openai.AsyncOpenAI`` (its errors, retries and fallback).
        where: the endpoint (:func:`endpoint`).
        timeout: seconds per attempt, connecting included.
    """

    def __init__(self, client: Any, where: Endpoint, timeout: float) -> None:
        self.client = client
        self.where = where
        self.timeout = timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._ssl: ssl.SSLContext | None = None
        #: Requests answered on this path, and those handed to the openai client.
        self.direct = 0
        self.handed = 0
        #: Set when this path cannot verify the server's certificate: the client sends everything.
        self.off = False

    async def complete(self, body: dict[str, Any]) -> dict[str, Any] | Any:
        """One chat completion: the reply's JSON, or the openai client's reply after a handover.

        Raises:
            openai.APIError: as the openai client raises it for the same failure.
        """
        if self.off:
            return await post_completion(self.client, body)
        try:
            reply = await self.post(body)
        except Retryable as failure:
            retries = int(getattr(self.client, "max_retries", 0) or 0)
            if failure.error is None:
                retries += 1  # not a failure of the server: the client gets its whole budget
            elif retries <= 0:
                raise failure.error from None
            else:
                await asyncio.sleep(failure.wait)
            self.handed += 1
            return await post_completion(self.client.with_options(max_retries=retries - 1), body)
        self.direct += 1
        return reply

    async def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send ``body``; the JSON of a 200 reply.

        Raises:
            Retryable: a failure the client would retry.
            openai.APIStatusError: any other status, as the client types it.
        """
        data = json.dumps(body).encode()
        w = self.where
        request = (b"POST " + w.path.encode() + b" HTTP/1.1\r\n" + w.headers
                   + b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
        try:
            async with asyncio.timeout(self.timeout):
                for fresh in (False, True):
                    conn = await self._connection(fresh)
                    try:
                        status, headers, payload, keep = await _exchange(conn, request)
                    except _Closed:
                        conn[1].close()
                        if fresh:
                            raise ConnectionResetError("the server closed the connection") from None
                        continue
                    except BaseException:
                        conn[1].close()
                        raise
                    (self._idle.append(conn) if keep else conn[1].close())
                    break
        except ssl.SSLCertVerificationError:
            # The client's own TLS set-up may know a certificate this path does not: let it
            # send every call from now on rather than fail each one here first.
            self.off = True
            raise Retryable(None, 0.0) from None
        except TimeoutError:
            import openai

            raise Retryable(openai.APITimeoutError(request=self._request()), FIRST_BACKOFF) from None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                ssl.SSLError) as exc:
            import openai

            raise Retryable(openai.APIConnectionError(request=self._request()), FIRST_BACKOFF) from exc
        if status == 200:
            try:
                reply = json.loads(payload)
            except ValueError:
                reply = None
            if isinstance(reply, dict) and isinstance(reply.get("choices"), list):
                out: dict[str, Any] = reply
                return out
        self._status_error(status, headers, payload)

    def _status_error(self, status: int, headers: dict[str, str], payload: bytes) -> NoReturn:
        """Raise the openai client's error for a reply it would not have accepted."""
        if status == 200:  # a 200 this path cannot read: the client reads it or rejects it
            raise Retryable(None, 0.0)
        httpx = _httpx(self.client)
        response = httpx.Response(status, headers=headers, content=payload, request=self._request())
        error = self.client._make_status_error_from_response(response)
        retry = getattr(self.client, "_should_retry", None)
        if retry(response) if retry is not None else status in (408, 409, 429) or status >= 500:
            raise Retryable(error, _wait(headers))
        raise error

    def _request(self) -> Any:
        return _httpx(self.client).Request("POST", self.where.url)

    async def _connection(self, fresh: bool) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while self._idle and not fresh:
            reader, writer = self._idle.pop()
            if not writer.is_closing() and not reader.at_eof():
                return reader, writer
            writer.close()
        w = self.where
        if w.scheme == "https" and self._ssl is None:
            self._ssl = _tls_context()
        return await asyncio.open_connection(
            w.host, w.port, ssl=self._ssl if w.scheme == "https" else None,
            server_hostname=w.host if w.scheme == "https" else None)

    async def close(self) -> None:
        """Close every idle connection."""
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()
        for _, writer in idle:
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()


async def _exchange(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
                    request: bytes) -> tuple[int, dict[str, str], bytes, bool]:
    """Write ``request``, read one response: ``(status, headers, body, keep the connection)``."""
    reader, writer = conn
    writer.write(request)
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            raise _Closed from None
        raise
    lines = head.decode("latin-1").split("\r\n")
    version, status = lines[0].split(" ", 2)[:2]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = await _chunked(reader)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body, keep = await reader.read(), False
    return int(status), headers, body, keep


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    """A chunked body (RFC 9112 section 7.1), trailers skipped."""
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _wait(headers: dict[str, str]) -> float:
    """Seconds to wait before a retry: the server's ``Retry-After`` when sane, else the first backoff."""
    try:
        after = float(headers.get("retry-after", ""))
    except ValueError:
        return FIRST_BACKOFF
    return after if 0 < after <= MAX_RETRY_AFTER else FIRST_BACKOFF


def _httpx(client: Any) -> Any:
    """The httpx module the openai client is built on (its responses and errors are made of it)."""
    import sys

    return sys.modules[type(client.base_url).__module__.split(".")[0]]


def _tls_context() -> ssl.SSLContext:
    """A verifying TLS context: ``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set (as httpx reads them),
    else the CA bundle httpx uses (certifi), else the system's."""
    cafile, capath = os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None
    if cafile or capath:
        return ssl.create_default_context(cafile=cafile, capath=capath)
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())
