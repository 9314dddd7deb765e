"""`mock-hyber serve | magic | accounts` — the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import logging.config
import os
import signal
import socket
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from mock_hyber.cli_flags import add_settings_arguments, setting_values, unknown_variables
from mock_hyber.config import Settings, load_settings
from mock_hyber.logs import log_config
from mock_hyber.version import __version__

log = logging.getLogger("mock_hyber")


def _settings(args: argparse.Namespace) -> Settings | None:
    """Settings from the command line, the environment and the config file; None (after one
    line on stderr naming the problem, never a value) when they are wrong."""
    for warning in unknown_variables(os.environ):
        print(f"mock-hyber: warning: {warning}", file=sys.stderr)
    try:
        return load_settings(args.config, args.values)
    except ValidationError as exc:
        print(f"mock-hyber: bad configuration: {describe(exc)}", file=sys.stderr)
    except (ValueError, OSError) as exc:
        print(f"mock-hyber: bad configuration: {exc}", file=sys.stderr)
    return None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from mock_hyber.api.http_protocol import with_header_timeout
    from mock_hyber.app import create_app

    settings = _settings(args)
    if settings is None:
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

    class Server(uvicorn.Server):
        """Says "listening" only once its socket is bound: a busy port is uvicorn's one error
        line (exit status 3), with no claim before it."""

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                port = self.servers[0].sockets[0].getsockname()[1]  # --port 0: the one it got
                where = f"http://{settings.host}:{port}"
                log.info("seed=%s store=%s; listening on %s", backend.seed, settings.store, where)

    # uvicorn re-raises SIGTERM after its graceful shutdown, to the handler in place before it
    # started: make that one a no-op, so a graceful stop returns here and exits 0.
    signal.signal(signal.SIGTERM, lambda *_: None)
    server = Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            http=with_header_timeout(settings.header_timeout),
            log_config=config,
            access_log=settings.log_level == "debug",
            timeout_graceful_shutdown=settings.shutdown_grace,
        )
    )
    # Ctrl-C: uvicorn re-raises the KeyboardInterrupt after its graceful shutdown (uvicorn.run
    # swallows it too). A failed start-up (lifespan, bind) exits inside with status 3.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    return 0


def _magic(args: argparse.Namespace) -> int:
    from mock_hyber.engine.rules import load_magic

    numbers = load_magic()
    if args.json:
        dumped = [number.model_dump(mode="json", exclude_defaults=True) for number in numbers]
        print(json.dumps({"magic_numbers": dumped}, indent=2))
        return 0
    width = max(len(number.name or "") for number in numbers)
    for number in numbers:
        print(f"{number.phone}  {(number.name or ''):<{width}}  {number.summary or ''}")
    return 0


# Per-account options that are secrets: shown as set, never as their value.
_SECRET_OPTIONS = {"password", "callback_hmac_secret"}


def _accounts(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings is None:
        return 2
    for account in settings.accounts:
        options = account.model_dump(exclude={"client_id", "login", "password"}, exclude_none=True)
        shown = [
            f"{key}={'(set)' if key in _SECRET_OPTIONS else value}"
            for key, value in options.items()
        ]
        print("  ".join([f"client_id={account.client_id}", f"login={account.login}", *shown]))
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
    parser.add_argument("--version", action="version", version=f"mock-hyber {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    usage = "%(prog)s [--config FILE] [--set KEY=VALUE ...] [--SETTING VALUE ...]"
    serve = commands.add_parser("serve", help="run the mock server", usage=usage)
    add_settings_arguments(serve)
    serve.set_defaults(handler=_serve, parser=serve)
    magic = commands.add_parser("magic", help="print the magic phone numbers and their lives")
    magic.add_argument("--json", action="store_true", help="as GET /_mock/magic answers")
    magic.set_defaults(handler=_magic)
    accounts = commands.add_parser(
        "accounts", help="print the configured accounts (without passwords) and exit", usage=usage
    )
    add_settings_arguments(accounts)
    accounts.set_defaults(handler=_accounts, parser=accounts)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if hasattr(args, "set_values"):
        args.values = setting_values(args, args.parser)
    try:
        return int(args.handler(args))
    except BrokenPipeError:  # `mock-hyber magic | head`: the reader left; not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
