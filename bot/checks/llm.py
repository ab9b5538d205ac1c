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
        return [skip("LLM", "не настроена (OPENAI_API_KEY пуст): отвечает встроенный движок без нейросети")]
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
                f"{endpoint} не принял ключ {mask(key)} (401)",
                "создайте новый ключ API в кабинете провайдера и впишите его в OPENAI_API_KEY",
            )
        ]
    except openai.PermissionDeniedError as exc:
        return [
            fail(
                item,
                f"ключу {mask(key)} не разрешена модель «{model}» на {endpoint} (403: {_message(exc)})",
                "впишите в OPENAI_MODEL модель, доступную этому ключу, или разрешите эту модель ключу "
                "(его проекту и региону) в кабинете провайдера",
            )
        ]
    except openai.NotFoundError:
        return [
            fail(
                item,
                f"на {endpoint} нет модели «{model}» (404)",
                "впишите в OPENAI_MODEL модель из списка провайдера (например gpt-4o-mini) "
                "и проверьте, что OPENAI_BASE_URL заканчивается на /v1",
            )
        ]
    except openai.RateLimitError as exc:
        return [
            fail(
                item,
                f"{endpoint} отказал: кончился баланс или превышен лимит запросов (429: {_message(exc)})",
                "пополните баланс (balance) или поднимите лимиты; пока отвечает встроенный движок",
            )
        ]
    except openai.APITimeoutError:
        return [
            fail(
                item,
                f"{endpoint} не ответил за {timeout:.0f} с",
                "проверьте OPENAI_BASE_URL и подключение к интернету; пока отвечает встроенный движок",
            )
        ]
    except openai.APIConnectionError as exc:
        return [
            fail(
                item,
                f"нет связи с {endpoint} ({exc.__cause__ or exc})",
                "проверьте OPENAI_BASE_URL (например https://api.openai.com/v1) и что этот адрес доступен отсюда",
            )
        ]
    except openai.APIStatusError as exc:
        return [
            fail(
                item,
                f"{endpoint} ответил {exc.status_code}: {_message(exc)}",
                "сверьте OPENAI_BASE_URL и OPENAI_MODEL с данными провайдера",
            )
        ]
    finally:
        await client.close()
    elapsed = time.monotonic() - started
    used = reply.model or model
    seconds = f"{elapsed:.1f}".replace(".", ",")
    return [ok(item, f"{endpoint}, модель {used}, ключ {mask(key)}: ответ за {seconds} с")]


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return exc.message
