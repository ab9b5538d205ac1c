"""Checks that need no network: the settings, the data folder, the knowledge files and prompts."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from bot.checks.model import Line, fail, ok, skip, warn
from bot.config import Settings
from bot.errors import BotError
from bot.knowledge.loader import load_knowledge
from bot.knowledge.models import Level
from bot.prompts import load_texts, resolve_prompts_dir

__all__ = ["check_data_dir", "check_knowledge", "check_prompts", "describe_settings"]

MIN_FREE_BYTES = 200 * 1024 * 1024
LOW_FREE_BYTES = 1024 * 1024 * 1024


def describe_settings(settings: Settings) -> Line:
    """What the settings switch on, so the operator sees which adapters will run."""
    parts = [
        "Telegram " + ("on" if settings.telegram_enabled else "off"),
        "LLM " + (settings.openai_model if settings.llm_enabled else "off (offline engine)"),
        "leads to " + ("Google Sheet" if settings.sheets_enabled else f"{settings.leads_csv}"),
        "WhatsApp " + ("on" if settings.whatsapp_enabled else "off"),
        f"time zone {settings.clinic_timezone}",
    ]
    return ok("Settings", "; ".join(parts))


def check_data_dir(settings: Settings) -> list[Line]:
    item = "Data folder"
    folder = settings.data_dir
    fix = f"create {folder} and let the service's user write to it, or set DATA_DIR to a writable folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".check-", delete=True) as probe:
            probe.write(b"ok")
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        return [fail(item, f"{folder} is not writable ({exc.strerror or exc})", fix)]
    free = shutil.disk_usage(folder).free
    shown = f"{free / 1024**3:.1f} GB free"
    if free < MIN_FREE_BYTES:
        return [
            fail(
                item,
                f"{folder.resolve()} is writable but only {free // 1024**2} MB are free",
                "free disk space (at least 200 MB), or set DATA_DIR to a folder on a larger disk",
            )
        ]
    if free < LOW_FREE_BYTES:
        return [warn(item, f"{folder.resolve()} is writable; disk space is low: {shown}", "free disk space")]
    return [ok(item, f"{folder.resolve()} is writable, {shown}")]


def check_knowledge(settings: Settings) -> list[Line]:
    """The knowledge files: one summary line, then one line per problem with file and line."""
    directory = settings.knowledge_dir
    knowledge = load_knowledge(directory)
    lines: list[Line] = []
    for problem in knowledge.problems:
        where = (
            f"{directory / problem.file}:{problem.line}" if problem.line else str(directory / problem.file)
        )
        message, _, fix = problem.message.partition("; ")
        if problem.level is Level.ERROR:
            lines.append(fail("Knowledge", f"{where}: {message}", fix or "correct the file"))
        else:
            lines.append(warn("Knowledge", f"{where}: {problem.message}"))
    summary = (
        f"{directory}: {len(knowledge.faq)} questions, {len(knowledge.doctors)} doctors, "
        f"clinic «{knowledge.clinic.name or '?'}»"
    )
    if knowledge.errors:
        head = fail(
            "Knowledge",
            f"{summary}; {len(knowledge.errors)} error(s) stop the bot",
            "correct the lines marked ✗ below and run `python -m bot check --knowledge` again",
        )
    elif knowledge.warnings:
        head = ok("Knowledge", f"{summary}; {len(knowledge.warnings)} warning(s) below")
    else:
        head = ok("Knowledge", summary)
    return [head, *lines]


def check_prompts(settings: Settings) -> list[Line]:
    item = "Prompts"
    try:
        folder = resolve_prompts_dir(settings.prompts_dir)
        texts = load_texts(settings.prompts_dir)
    except BotError as exc:
        message, _, fix = str(exc).partition("; ")
        return [fail(item, message, fix or f"restore {settings.prompts_dir} from the project")]
    if not texts.templates:
        return [fail(item, f"{folder}/replies.toml holds no texts", "restore it from the project")]
    extra = sorted(p.name for p in Path(folder).glob("*") if p.suffix in {".toml", ".md", ".txt"})
    return [ok(item, f"{folder}: {len(texts.templates)} texts ({', '.join(extra)})")]


def not_configured(item: str, what: str) -> Line:
    return skip(item, f"not configured ({what})")
