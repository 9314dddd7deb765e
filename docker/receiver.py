"""A one-file callback receiver for trying mock_hyber: logs every POSTed body and answers 200.

    python3 docker/receiver.py            # listens on 0.0.0.0:9000 (RECEIVER_PORT to change)

Point a request's callback_url at it, e.g. http://receiver:9000/dr from docker/compose.yaml.
Standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.dumps(json.loads(raw), ensure_ascii=False)
        except ValueError:
            body = raw.decode(errors="replace")
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        signature = self.headers.get("X-Hyber-Signature")
        extra = f" signature={signature}" if signature else ""
        print(f"{stamp} POST {self.path}{extra} {body}", flush=True)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # a health check
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    port = int(os.environ.get("RECEIVER_PORT", "9000"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    # As PID 1 of a container, SIGTERM (docker stop) does nothing unless handled.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"receiver: listening on 0.0.0.0:{port}", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
