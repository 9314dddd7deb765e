"""The floor of bench_staging.py: the bare stack under mock_hyber (uvicorn + Starlette +
orjson) answering constant JSON on the mock's paths, so a benchmark can show how much of a
request's time is the stack itself.

    .venv/bin/python bench/floor_app.py --port 8090 [--recipients 50000]

Every provider request checks the Basic credentials against a constant and reads its whole
body; a POST body is decoded with orjson (any server must decode it). The answers are built
once (on first use) and sent as bytes: `{"job_id": ...}` for async sends, and for the sync
and status paths a body of the mock's shape with `--recipients` items, so the floor also
pays for sending an answer of that size. uvicorn runs with the same options as
`mock-hyber serve` (its defaults: `loop` and `http` "auto", access log off).
"""

from __future__ import annotations

import argparse
import base64
import functools
import signal

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

AUTHORIZATION = "Basic " + base64.b64encode(b"hyber:hyber").decode()
FIRST_PHONE = 380960000000
JOB = orjson.dumps({"job_id": "b2f1c6a4-3d0e-5a77-9c1b-6f0e2d8a4b13"})
UNAUTHORIZED = orjson.dumps({"error_code": 10401, "error_text": "Unauthorized"})
ID = "9f60ac8f-e721-5027-b838-e6fcb95fcd7a"


@functools.cache
def sync_answer(count: int) -> bytes:
    items = [
        {
            "processed": True,
            "phone_number": str(FIRST_PHONE + i),
            "message_id": ID,
            "extra_id": f"AD-{i:06d}",
            "accepted": True,
        }
        for i in range(count)
    ]
    return orjson.dumps({"messages": items})


@functools.cache
def status_answer(count: int) -> bytes:
    items = [
        {
            "time": 1477417294667,
            "phone_number": str(FIRST_PHONE + i),
            "message_id": ID,
            "extra_id": f"AD-{i:06d}",
            "processed": False,
            "accepted": True,
            "total_sms_parts": 1,
            "delivered_sms_parts": 1,
            "status_text": "SMS delivered",
            "status": 2,
            "substatus": 23,
            "hyber_status": 23011,
            "clicks": 0,
        }
        for i in range(count)
    ]
    return orjson.dumps({"messages": items})


def json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def build_app(recipients: int) -> Starlette:
    async def health(request: Request) -> Response:
        return json_response(b'{"status":"ok","floor":true}')

    async def send(request: Request) -> Response:
        if request.headers.get("authorization") != AUTHORIZATION:
            return json_response(UNAUTHORIZED, 401)
        orjson.loads(await request.body())
        if request.url.path.endswith("/sync"):
            return json_response(sync_answer(recipients))
        return json_response(JOB)

    async def status(request: Request) -> Response:
        if request.headers.get("authorization") != AUTHORIZATION:
            return json_response(UNAUTHORIZED, 401)
        return json_response(status_answer(recipients))

    routes = [
        Route("/_mock/health", health),
        Route("/{client_id}", send, methods=["POST"]),
        Route("/{client_id}/{kind:str}", send, methods=["POST"]),
        Route("/{client_id}/{kind:str}/sync", send, methods=["POST"]),
        Route("/{client_id}/status/{job_id}", status),
    ]
    return Starlette(routes=routes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--recipients", type=int, default=50_000)
    args = parser.parse_args()
    # As `mock-hyber serve`: a graceful stop on SIGTERM returns from uvicorn.run and exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        build_app(args.recipients),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
