#!/usr/bin/env python3
"""Verifies one webhook request with the reference Standard Webhooks library (PyPI
`standardwebhooks`, pinned in infra/requirements.txt).

Usage: verify_webhook.py WHSEC_SECRET WEBHOOK_ID WEBHOOK_TIMESTAMP WEBHOOK_SIGNATURE < body

The body is read from stdin as raw bytes. Prints `ok` and exits 0 when the library accepts the
signature; prints `invalid: <reason>` and exits 1 otherwise (2 on a usage error). The integration
test `signing::reference_verifier_accepts_our_signatures` runs it once per request.
"""

import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> int:
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    secret, msg_id, timestamp, signature = sys.argv[1:]
    body = sys.stdin.buffer.read()
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signature,
    }
    try:
        Webhook(secret).verify(body, headers, json_parse=False)
    except (WebhookVerificationError, ValueError, UnicodeDecodeError) as e:
        print(f"invalid: {e}")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
