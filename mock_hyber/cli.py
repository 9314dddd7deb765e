"""`mock-hyber serve | magic | accounts` — the command line."""

from __future__ import annotations

import argparse
import logging
import logging.config
import signal
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from mock_hyber.logs import log_config

log = logging.getLogger("mock_hyber")


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mock_hyber.api.http_protocol import with_header_timeout
    from mock_hyber.app import create_app
    from mock_hyber.config import load_settings

    try:
        settings = load_settings(
            args.config,
            host=args.host,
            port=args.port,
            seed=args.seed,
            log_level=args.log_level,
            store_repair=args.repair,
        )
    except ValidationError as exc:
        print(f"mock-hyber: bad configuration: {describe(exc)}", file=sys.stderr)
        return 2
    except (ValueError, OSError) as exc:
        print(f"mock-hyber: bad configuration: {exc}", file=sys.stderr)
        return 2
    config = log_config(settings.log_level, settings.log_format)
    logging.config.dictConfig(config)
    try:
        app = create_app(settings)
        app.state.owns_process = True
    except (ValueError, OSError) as exc:  # e.g. an unreadable scenarios file or store
        log.error("cannot start: %s", exc)
        return 2
    backend = app.state.backend
    for account in settings.accounts:
        log.info("account client_id=%s login=%s", account.client_id, account.login)
    where = f"http://{settings.host}:{settings.port}"
    log.info("seed=%s store=%s; listening on %s", backend.seed, settings.store, where)
    # uvicorn re-raises SIGTERM after its graceful shutdown, to the handler in place before it
    # started: make that one a no-op, so a graceful stop returns here and exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        http=with_header_timeout(settings.header_timeout),
        log_config=config,
        access_log=settings.log_level == "debug",
        timeout_graceful_shutdown=settings.shutdown_grace,
    )
    return 0


def describe(error: ValidationError) -> str:
    """Each problem as `field: what is wrong`, without the values given: a setting such as
    `accounts` holds passwords, and a start-up error must never print them."""
    problems = []
    for item in error.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(part) for part in item["loc"]) or "settings"
        problems.append(f"{where}: {item['msg']}")
    return "; ".join(problems)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mock-hyber", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the mock server")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--config", help="YAML or JSON config file (or MOCK_HYBER_CONFIG)")
    serve.add_argument("--seed", type=int, help="seed for ids and outcomes (default: random)")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--repair",
        action="store_true",
        default=None,
        help="start on what a damaged store still holds, setting the damaged files aside",
    )
    serve.set_defaults(handler=_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
