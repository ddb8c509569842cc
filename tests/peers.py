"""Loopback peers that speak SendGrid's and Twilio's HTTP APIs, so the official SDKs are
exercised over real HTTP in tests (the shared fake-server plumbing is connectors/fake_http)."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs

from connectors.fake_http import ANSWER, LocalServer


class SendGridPeer(LocalServer):
    """`POST /v3/mail/send`: 202 with an X-Message-Id, the JSON body kept in `mails`."""

    def __init__(self) -> None:
        super().__init__()
        self.mails: list[dict] = []

    def answer(self, method, path, query, headers, body) -> ANSWER:
        if method == "POST" and path == "/v3/mail/send":
            self.mails.append(json.loads(body))
            return 202, b"", {"X-Message-Id": f"sg-{uuid.uuid4().hex[:12]}"}
        return 404, {"errors": [{"message": f"no route {method} {path}"}]}, {}


class TwilioPeer(LocalServer):
    """`POST /2010-04-01/Accounts/{sid}/Messages.json` as Twilio answers it; form bodies kept in `sms`."""

    def __init__(self) -> None:
        super().__init__()
        self.sms: list[dict] = []

    def answer(self, method, path, query, headers, body) -> ANSWER:
        parts = path.strip("/").split("/")
        if method == "POST" and len(parts) == 4 and parts[0] == "2010-04-01" and parts[3] == "Messages.json":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            self.sms.append(form)
            sid = f"SM{uuid.uuid4().hex}"
            return 201, {"sid": sid, "account_sid": parts[2], "to": form.get("To"), "from": form.get("From"),
                         "body": form.get("Body"), "status": "queued", "num_segments": "1",
                         "uri": f"/2010-04-01/Accounts/{parts[2]}/Messages/{sid}.json"}, {}
        return 404, {"code": 20404, "message": "not found", "status": 404}, {}
