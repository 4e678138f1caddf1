"""A small webhook receiver that verifies DataManager's signatures.

Usage:
    WEBHOOK_SECRET=whsec_... python examples/receiver.py [--port 8000]

It verifies every POST with the independent `standardwebhooks` library and
prints each verified event; anything unverifiable is answered 401. Receivers
should treat `webhook-id` as an idempotency key: a retried delivery repeats it.
"""

import argparse
import contextlib
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def make_handler(verifier: Webhook) -> type[BaseHTTPRequestHandler]:
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {key.lower(): value for key, value in self.headers.items()}
            try:
                event = verifier.verify(body, headers)
            except WebhookVerificationError as exc:
                print(f"REJECTED ({exc})", flush=True)
                self.send_response(401)
                self.end_headers()
                return

            repeat = " (repeat)" if headers["webhook-id"] in seen else ""
            seen.add(headers["webhook-id"])
            print(f"VERIFIED {event['type']}{repeat}", flush=True)
            print(json.dumps(event, indent=2, ensure_ascii=False), flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the verified events are the output."""

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        print("set WEBHOOK_SECRET to the secret returned when the webhook was registered")
        return 2

    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(Webhook(secret)))
    print(f"listening on http://127.0.0.1:{args.port}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()

    return 0


if __name__ == "__main__":
    sys.exit(main())
