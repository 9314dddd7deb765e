"""The control and inspection plane, all under /_mock (provider paths start with a number)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mock_hyber import __version__
from mock_hyber.api.deps import backend_of
from mock_hyber.api.responses import OrjsonResponse
from mock_hyber.errors import HyberError

router = APIRouter(prefix="/_mock", tags=["control"])


@router.get("/health", summary="Liveness and readiness")
async def health(request: Request) -> OrjsonResponse:
    backend = backend_of(request)
    return OrjsonResponse(
        {
            "status": "ok",
            "version": __version__,
            "seed": backend.seed,
            "accounts": sorted(backend.accounts),
            "messages": sum(len(account.store) for account in backend.accounts.values()),
        }
    )


@router.post("/reset", summary="Wipe one account (?client_id=) or every account")
async def reset(request: Request, client_id: str | None = None) -> OrjsonResponse:
    backend = backend_of(request)
    if client_id is not None and backend.account(client_id) is None:
        raise HyberError.named("not_found", f"no account with client_id {client_id}")
    backend.reset(client_id)
    return OrjsonResponse({"reset": [client_id] if client_id else sorted(backend.accounts)})
