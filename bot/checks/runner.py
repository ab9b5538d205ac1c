"""Runs every check in order: the local ones first, then the configured services side by side."""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
from collections.abc import Awaitable, Callable

from bot.checks.local import (
    check_admin_alerts,
    check_data_dir,
    check_knowledge,
    check_prompts,
    describe_settings,
)
from bot.checks.model import Line, fail
from bot.config import Settings
from bot.errors import ConfigError

__all__ = ["SERVICE_CHECKS", "config_failures", "run_checks"]

log = logging.getLogger(__name__)

ServiceCheck = Callable[[Settings], Awaitable[list[Line]]]
# (item, module, function): imported only when services are checked, so `check --knowledge` stays quick.
SERVICE_CHECKS: tuple[tuple[str, str, str], ...] = (
    ("Telegram", "bot.checks.telegram", "check_telegram"),
    ("LLM", "bot.checks.llm", "check_llm"),
    ("Google Sheets", "bot.checks.sheets", "check_sheets"),
    ("WhatsApp", "bot.checks.whatsapp", "check_whatsapp"),
    ("MAX", "bot.checks.max", "check_max"),
)


def config_failures(error: ConfigError) -> list[Line]:
    """One ✗ line per bad variable of a settings error."""
    text = str(error).removeprefix("неверные настройки: ")
    lines = []
    for part in re.split(r"; (?=[A-Z0-9_.]+: )", text):
        match = re.match(r"([A-Z0-9_.]+): ", part)
        name = match.group(1) if match else "эту настройку"
        lines.append(
            fail("Настройки", part, f"исправьте {name} в файле .env (все настройки описаны в .env.example)")
        )
    return lines


async def _guarded(item: str, check: ServiceCheck, settings: Settings, timeout: float) -> list[Line]:
    try:
        return await asyncio.wait_for(check(settings), timeout)
    except TimeoutError:
        return [
            fail(
                item,
                f"нет ответа за {timeout:.0f} с",
                "проверьте подключение к интернету и адрес сервиса в .env (настройки …_URL)",
            )
        ]


async def run_checks(
    settings: Settings, *, knowledge_only: bool = False, timeout: float = 30.0
) -> list[Line]:
    lines = [describe_settings(settings)] if not knowledge_only else []
    if not knowledge_only:
        lines += check_admin_alerts(settings)
        lines += check_data_dir(settings)
    lines += check_knowledge(settings)
    lines += check_prompts(settings)
    if knowledge_only:
        return lines
    checks = [(item, getattr(importlib.import_module(module), name)) for item, module, name in SERVICE_CHECKS]
    results = await asyncio.gather(*(_guarded(item, check, settings, timeout) for item, check in checks))
    for result in results:
        lines += result
    return lines
