"""The LLM endpoint: one tiny chat completion with the configured model, through the real client."""

from __future__ import annotations

import time

import openai
from openai import AsyncOpenAI

from bot.checks.model import Line, fail, mask, ok, skip
from bot.config import Settings

__all__ = ["check_llm"]


async def check_llm(settings: Settings, timeout: float = 20.0) -> list[Line]:
    key = settings.openai_api_key
    if key is None:
        return [skip("LLM", "not configured (OPENAI_API_KEY is empty): the offline engine answers")]
    item = "LLM"
    endpoint = settings.openai_base_url or "https://api.openai.com/v1"
    model = settings.openai_model
    client = AsyncOpenAI(
        api_key=key.get_secret_value(), base_url=settings.openai_base_url, timeout=timeout, max_retries=0
    )
    started = time.monotonic()
    try:
        reply = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Ответь одним словом: да"}], max_tokens=5
        )
    except openai.AuthenticationError:
        return [
            fail(
                item,
                f"the key {mask(key)} was rejected by {endpoint} (401)",
                "create a new API key in your provider's console and put it into OPENAI_API_KEY",
            )
        ]
    except openai.PermissionDeniedError as exc:
        return [
            fail(
                item,
                f"the key {mask(key)} may not use model «{model}» on {endpoint} (403: {_message(exc)})",
                "set OPENAI_MODEL to a model this key may use, or allow the model for the key "
                "(its project and region) in your provider's console",
            )
        ]
    except openai.NotFoundError:
        return [
            fail(
                item,
                f"{endpoint} has no model «{model}» (404)",
                "set OPENAI_MODEL to a model your provider lists (e.g. gpt-4o-mini), "
                "and check OPENAI_BASE_URL ends with /v1",
            )
        ]
    except openai.RateLimitError as exc:
        return [
            fail(
                item,
                f"{endpoint} refused: quota or rate limit (429: {_message(exc)})",
                "top up the account's balance or raise its limits; the offline engine answers meanwhile",
            )
        ]
    except openai.APITimeoutError:
        return [
            fail(
                item,
                f"{endpoint} did not answer within {timeout:.0f} s",
                "check OPENAI_BASE_URL and the network; the bot falls back to the offline engine",
            )
        ]
    except openai.APIConnectionError as exc:
        return [
            fail(
                item,
                f"cannot connect to {endpoint} ({exc.__cause__ or exc})",
                "check OPENAI_BASE_URL (e.g. https://api.openai.com/v1) and that this machine can reach it",
            )
        ]
    except openai.APIStatusError as exc:
        return [
            fail(
                item,
                f"{endpoint} answered {exc.status_code}: {_message(exc)}",
                "check OPENAI_BASE_URL and OPENAI_MODEL with your provider",
            )
        ]
    finally:
        await client.close()
    elapsed = time.monotonic() - started
    used = reply.model or model
    return [ok(item, f"{endpoint}, model {used}, key {mask(key)}: answered in {elapsed:.1f} s")]


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return exc.message
