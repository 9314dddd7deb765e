"""`mock-hyber serve | magic | accounts` — the command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mock_hyber.app import create_app
    from mock_hyber.config import load_settings

    try:
        settings = load_settings(
            args.config, host=args.host, port=args.port, seed=args.seed, log_level=args.log_level
        )
    except (ValidationError, ValueError, OSError) as exc:
        print(f"mock-hyber: bad configuration: {exc}", file=sys.stderr)
        return 2
    app = create_app(settings)
    backend = app.state.backend
    for account in settings.accounts:
        print(f"mock-hyber: account client_id={account.client_id} login={account.login}")
    print(f"mock-hyber: seed={backend.seed}; listening on http://{settings.host}:{settings.port}")
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mock-hyber", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the mock server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--config", help="YAML or JSON config file (or MOCK_HYBER_CONFIG)")
    serve.add_argument("--seed", type=int, help="seed for ids and outcomes (default: random)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
