"""The HTTP clients that POST callbacks. The dispatcher only needs `post()`.

aiohttp is the default: on this kind of machine it sends several times more requests per CPU
second than httpx (whose connection pool bookkeeping dominates at callback rates). httpx is
used when `callback_client` says so, or when a test injects an httpx transport. Either one is
imported (in a worker thread) and its session opened at the first callback: an idle server does
not carry them.
"""

from __future__ import annotations

import asyncio
import importlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import httpx

from mock_hyber.version import __version__

USER_AGENT = f"mock-hyber/{__version__}"


class SendError(Exception):
    """The request got no HTTP answer (connection refused, timeout, ...); text for the log."""


class Sender(Protocol):
    async def start(self) -> None: ...

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int: ...

    async def close(self) -> None: ...


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class AiohttpSender:
    def __init__(self, concurrency: int, timeout: float) -> None:
        self._concurrency = concurrency
        self._timeout = timeout
        self._session: Any = None  # aiohttp.ClientSession, opened by the first post
        self._opening = asyncio.Lock()

    async def start(self) -> None:
        return None

    async def _open(self) -> Any:
        async with self._opening:
            if self._session is None:
                aiohttp = await _imported("aiohttp")
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=self._concurrency, ttl_dns_cache=60),
                    timeout=aiohttp.ClientTimeout(total=self._timeout),
                    headers={"User-Agent": USER_AGENT},
                    auto_decompress=False,
                )
        return self._session

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        session = self._session or await self._open()
        import aiohttp  # loaded by _open

        try:
            async with session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                return int(response.status)
        except TimeoutError as exc:
            raise SendError(f"Timeout after {self._timeout:g} s") from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise SendError(_describe(exc)) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class HttpxSender:
    def __init__(
        self, concurrency: int, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._concurrency = concurrency
        self._timeout = timeout
        self._transport = transport
        self._client: Any = None  # httpx.AsyncClient, opened by the first post
        self._opening = asyncio.Lock()

    async def start(self) -> None:
        return None

    async def _open(self) -> Any:
        async with self._opening:
            if self._client is None:
                httpx = await _imported("httpx")
                limits = httpx.Limits(
                    max_connections=self._concurrency,
                    max_keepalive_connections=self._concurrency,
                )
                self._client = httpx.AsyncClient(
                    transport=self._transport,
                    timeout=self._timeout,
                    limits=limits,
                    headers={"User-Agent": USER_AGENT},
                    follow_redirects=False,
                )
        return self._client

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        client = self._client or await self._open()
        import httpx  # loaded by _open

        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendError(_describe(exc)) from exc
        return int(response.status_code)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()


async def _imported(name: str) -> Any:
    """Import a module in a worker thread: a first import takes tens of milliseconds that the
    event loop must not spend."""
    return await asyncio.to_thread(importlib.import_module, name)


def make_sender(
    client: str, concurrency: int, timeout: float, transport: httpx.AsyncBaseTransport | None
) -> Sender:
    if transport is not None or client == "httpx":
        return HttpxSender(concurrency, timeout, transport)
    return AiohttpSender(concurrency, timeout)
