"""Checks that need no network: the settings, the data folder, the knowledge files and prompts."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bot.checks.model import Line, Mark, fail, ok, skip, warn
from bot.config import Settings
from bot.errors import BotError
from bot.knowledge.loader import load_knowledge
from bot.knowledge.models import Level
from bot.prompts import load_texts, resolve_prompts_dir
from bot.russian import count

__all__ = ["check_admin_alerts", "check_data_dir", "check_knowledge", "check_prompts", "describe_settings"]

MIN_FREE_BYTES = 200 * 1024 * 1024
LOW_FREE_BYTES = 1024 * 1024 * 1024


def describe_settings(settings: Settings) -> Line:
    """What the settings switch on, so the operator sees which adapters will run."""
    parts = [
        "Telegram " + ("включён" if settings.telegram_enabled else "выключен"),
        "LLM "
        + (settings.openai_model if settings.llm_enabled else "выключена (отвечает встроенный движок)"),
        "заявки " + ("в Google-таблицу" if settings.sheets_enabled else f"в файл {settings.leads_csv}"),
        "WhatsApp " + ("включён" if settings.whatsapp_enabled else "выключен"),
        f"часовой пояс {settings.clinic_timezone}",
    ]
    return ok("Настройки", "; ".join(parts))


def check_admin_alerts(settings: Settings) -> list[Line]:
    """Without Telegram and an admin chat, handoffs and alerts reach nobody: worth a warning, not a failure.

    With Telegram on, the Telegram check itself names a missing ADMIN_CHAT_ID (as a ✗)."""
    if settings.telegram_enabled or settings.max_admin_chat_id is not None:
        return []  # a MAX admin chat is checked by the MAX check
    return [
        warn(
            "Чат администраторов",
            "не настроен (нет ни ADMIN_CHAT_ID в Telegram, ни MAX_ADMIN_CHAT_ID): просьбы пациентов позвать администратора "
            "и уведомления о новых и неподтверждённых заявках никому не приходят, только в журнал",
            ("" if Path(".env").exists() else "создайте файл .env из образца (cp .env.example .env), ")
            + "впишите в .env токен бота (TELEGRAM_BOT_TOKEN) и номер чата администраторов (ADMIN_CHAT_ID), "
            "затем снова выполните make check",
        )
    ]


def check_data_dir(settings: Settings) -> list[Line]:
    item = "Папка данных"
    folder = settings.data_dir
    fix = f"создайте папку {folder} и дайте пользователю сервиса право записи в неё или укажите в DATA_DIR другую"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".check-", delete=True) as probe:
            probe.write(b"ok")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return [fail(item, f"в {folder} нельзя записывать ({exc.strerror or exc})", fix)]
    free = shutil.disk_usage(folder).free
    shown = "свободно " + f"{free / 1024**3:.1f}".replace(".", ",") + " ГБ"
    if free < MIN_FREE_BYTES:
        return [
            fail(
                item,
                f"в {folder.resolve()} можно записывать, но свободно всего {free // 1024**2} МБ",
                "освободите место на диске (нужно не меньше 200 МБ) или укажите в DATA_DIR папку на другом диске",
            )
        ]
    if free < LOW_FREE_BYTES:
        return [
            warn(
                item,
                f"в {folder.resolve()} можно записывать; места мало: {shown}",
                "освободите место на диске",
            )
        ]
    return [ok(item, f"в {folder.resolve()} можно записывать, {shown}")]


def check_knowledge(settings: Settings) -> list[Line]:
    """The knowledge files: one summary line, then one line per problem with file and line."""
    directory = settings.knowledge_dir
    knowledge = load_knowledge(directory)
    lines: list[Line] = []
    for problem in knowledge.problems:
        where = (
            f"{directory / problem.file}:{problem.line}" if problem.line else str(directory / problem.file)
        )
        if problem.level is Level.ERROR:
            lines.append(fail("Знания", f"{where}: {problem.message}", problem.fix or "исправьте файл"))
        else:
            lines.append(warn("Знания", f"{where}: {problem.message}", problem.fix))
    summary = (
        f"{directory}: {count(len(knowledge.faq), 'вопрос', 'вопроса', 'вопросов')}, "
        f"{count(len(knowledge.doctors), 'врач', 'врача', 'врачей')}, "
        f"клиника: {knowledge.clinic.name or '?'}"
    )
    errors = count(len(knowledge.errors), "ошибка", "ошибки", "ошибок")
    warnings = count(len(knowledge.warnings), "предупреждение", "предупреждения", "предупреждений")
    if knowledge.errors:
        also = f" и {warnings}" if knowledge.warnings else ""
        head = Line(
            Mark.FAIL,
            "Знания",
            f"{summary}. Ниже {errors}{also}; пока есть ошибки, бот не запустится",
            heading=True,
        )
    elif knowledge.warnings:
        head = ok("Знания", f"{summary}. Ниже {warnings}")
    else:
        head = ok("Знания", summary)
    return [head, *lines]


def check_prompts(settings: Settings) -> list[Line]:
    item = "Тексты бота"
    try:
        folder = resolve_prompts_dir(settings.prompts_dir)
        texts = load_texts(settings.prompts_dir)
    except BotError as exc:
        message, _, fix = str(exc).partition("; ")
        return [fail(item, message, fix or f"восстановите папку {settings.prompts_dir} из проекта")]
    if not texts.templates:
        return [fail(item, f"в {folder}/replies.toml нет ни одного текста", "восстановите файл из проекта")]
    extra = sorted(p.name for p in Path(folder).glob("*") if p.suffix in {".toml", ".md", ".txt"})
    shown = count(len(texts.templates), "текст", "текста", "текстов")
    return [ok(item, f"{folder}: {shown} ({', '.join(extra)})")]


def not_configured(item: str, what: str) -> Line:
    return skip(item, f"не настроен ({what})")
