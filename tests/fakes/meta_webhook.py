"""Webhook bodies as Meta sends them: compact JSON, non-ASCII escaped as \\uXXXX, `/` as `\\/`, signed.

Builders return the decoded payload; `encode` makes the exact bytes and `sign` the X-Hub-Signature-256
header value over those bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
from typing import Any

from tests.fakes.graph_api import PHONE_NUMBER_ID

APP_SECRET = "c0ffee-app-secret"
VERIFY_TOKEN = "verify-me-please"
WABA_ID = "102290129340398"

_ids = itertools.count(1)


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode("ascii")


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def new_wamid() -> str:
    return f"wamid.HBgLNzkxMjM0NTY3ODkVAgASGBQzQUIx{next(_ids):08d}QzM1RjQ2AA=="


def envelope(value: dict[str, Any], phone_number_id: str = PHONE_NUMBER_ID) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": WABA_ID,
                "changes": [
                    {
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "78462003040",
                                "phone_number_id": phone_number_id,
                            },
                            **value,
                        },
                        "field": "messages",
                    }
                ],
            }
        ],
    }


def message_body(
    wa_id: str,
    message: dict[str, Any],
    *,
    timestamp: int,
    name: str = "Ольга",
    message_id: str | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
) -> dict[str, Any]:
    return envelope(
        {
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [
                {"from": wa_id, "id": message_id or new_wamid(), "timestamp": str(timestamp), **message}
            ],
        },
        phone_number_id,
    )


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body}}


def button_reply(button_id: str, title: str) -> dict[str, Any]:
    return {
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
    }


def list_reply(row_id: str, title: str, description: str = "") -> dict[str, Any]:
    reply = {"id": row_id, "title": title}
    if description:
        reply["description"] = description
    return {"type": "interactive", "interactive": {"type": "list_reply", "list_reply": reply}}


def voice() -> dict[str, Any]:
    return {
        "type": "audio",
        "audio": {
            "mime_type": "audio/ogg; codecs=opus",
            "sha256": "k3hQ8cPbX0Zt3w1Qm1dC9kQ0Yc1f0m2m3Q9Yb7xGm2U=",
            "id": "1023847562938475",
            "voice": True,
        },
    }


def image() -> dict[str, Any]:
    return {
        "type": "image",
        "image": {"mime_type": "image/jpeg", "sha256": "aGVsbG8=", "id": "887766554433221"},
    }


def location() -> dict[str, Any]:
    return {"type": "location", "location": {"latitude": 53.2, "longitude": 50.1, "name": "Самара"}}


def contact_card(phone: str) -> dict[str, Any]:
    return {
        "type": "contacts",
        "contacts": [
            {"name": {"formatted_name": "Ольга", "first_name": "Ольга"}, "phones": [{"phone": phone}]}
        ],
    }


def status_body(
    wa_id: str,
    status: str,
    *,
    timestamp: int,
    message_id: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message_id or new_wamid(),
        "status": status,
        "timestamp": str(timestamp),
        "recipient_id": wa_id,
    }
    if status in ("sent", "delivered"):
        item["conversation"] = {"id": "c0nv3rsat10n", "origin": {"type": "service"}}
        item["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service"}
    if errors:
        item["errors"] = errors
    return envelope({"statuses": [item]})


def window_closed_error() -> dict[str, Any]:
    return {
        "code": 131047,
        "title": "Re-engagement message",
        "message": "Re-engagement message",
        "error_data": {
            "details": "Message failed to send because more than 24 hours have passed since the customer "
            "last replied to this number."
        },
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }
