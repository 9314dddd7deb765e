"""The HTTP clients that POST callbacks. The dispatcher only needs `post()`.

aiohttp is the default: on this kind of machine it sends several times more requests per CPU
second than httpx (whose connection pool bookkeeping dominates at callback rates). httpx is
used when `callback_client` says so, or when a test injects an httpx transport.
"""

from __future__ import annotations

from typing import Protocol

import aiohttp
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
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._concurrency, ttl_dns_cache=60),
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            headers={"User-Agent": USER_AGENT},
            auto_decompress=False,
        )

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        assert self._session is not None
        try:
            async with self._session.post(
                url, data=body, headers=headers, allow_redirects=False
            ) as response:
                await response.read()
                return response.status
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
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
            headers={"User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    async def start(self) -> None:
        return None

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise SendError(_describe(exc)) from exc
        return response.status_code

    async def close(self) -> None:
        await self._client.aclose()


def make_sender(
    client: str, concurrency: int, timeout: float, transport: httpx.AsyncBaseTransport | None
) -> Sender:
    if transport is not None or client == "httpx":
        return HttpxSender(concurrency, timeout, transport)
    return AiohttpSender(concurrency, timeout)
