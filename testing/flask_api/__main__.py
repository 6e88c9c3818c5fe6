"""Runs the reference server: `python -m testing.flask_api --port 0 [--host H] [--csrf]`.

Prints exactly one line, `LISTENING http://HOST:PORT`, once the socket is bound, then
serves until SIGTERM/SIGINT (or, with --exit-on-stdin-eof, until its parent goes away).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from werkzeug.serving import make_server

from .server import create_app, request_handler_for


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m testing.flask_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--csrf", action="store_true", help="require X-CSRF-Token on POST /api/* from the start")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when stdin closes, so a harness that dies without cleaning up leaves no server behind",
    )
    return parser.parse_args(argv)


def wait_for_stdin_eof(stop: threading.Event) -> None:
    # Reads the raw fd: a daemon thread blocked inside sys.stdin's buffered reader holds
    # its lock, and interpreter shutdown then aborts waiting for that lock.
    while os.read(sys.stdin.fileno(), 4096):
        pass
    stop.set()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Werkzeug's access log would print request lines; errors still reach stderr.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    app = create_app(csrf=args.csrf)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=request_handler_for(app))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.exit_on_stdin_eof:
        threading.Thread(target=wait_for_stdin_eof, args=(stop,), daemon=True).start()

    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"LISTENING http://{host}:{server.server_port}", flush=True)

    # serve_forever runs in a thread so the main thread stays free to receive signals.
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    while not stop.wait(0.5):
        pass
    app.extensions["symbiote_reference"].shutdown()  # releases delayed and hanging requests
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
