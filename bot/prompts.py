"""Loads the operator's prompt and reply files from PROMPTS_DIR."""

from __future__ import annotations

import tomllib
from pathlib import Path

from bot.dialogue.texts import Texts
from bot.errors import KnowledgeError

REPLIES_FILE = "replies.toml"
EXTRA_FILES = ("followups.toml",)  # optional: more keys for the same Texts (reminders of silent patients)
PACKAGE_PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


def resolve_prompts_dir(configured: Path) -> Path:
    """PROMPTS_DIR as set; a relative default that does not exist here falls back to the project's copy."""
    if configured.is_dir():
        return configured
    if not configured.is_absolute() and PACKAGE_PROMPTS.is_dir():
        return PACKAGE_PROMPTS
    raise KnowledgeError(f"папки с текстами бота {configured} нет; укажите её в PROMPTS_DIR")


def load_texts(prompts_dir: Path) -> Texts:
    folder = resolve_prompts_dir(prompts_dir)
    flat = _read_flat(folder / REPLIES_FILE)
    for name in EXTRA_FILES:
        if (folder / name).exists():
            flat.update({k: v for k, v in _read_flat(folder / name).items() if k not in flat})
        elif PACKAGE_PROMPTS.joinpath(name).exists():  # an older prompts folder: the project's reminders
            flat.update({k: v for k, v in _read_flat(PACKAGE_PROMPTS / name).items() if k not in flat})
    return Texts(flat)


def _read_flat(path: Path) -> dict[str, str | list[str]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise KnowledgeError(f"нет файла {path} (в нём ответы бота); восстановите его из проекта") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"{path}: {exc}; проверьте кавычки и знак = в этой строке") from exc
    flat: dict[str, str | list[str]] = {}
    for key, value in data.items():
        if isinstance(value, str | list):
            flat[key] = value
    return flat
