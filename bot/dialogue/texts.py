"""The patient-facing texts: loaded from `prompts/replies.toml` by the operator's files, used by the core."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class Texts:
    """Templates by key; a key may hold several variants (one is picked) so the bot does not sound canned."""

    templates: Mapping[str, str | list[str]]
    seed: int | None = None

    def get(self, key: str, **values: Any) -> str:
        template = self.templates.get(key, "")
        if isinstance(template, list):
            template = (
                random.Random(self.seed).choice(template)
                if self.seed is not None
                else random.choice(template)
            )
        return str(template).format_map(_Blank(values)).strip()

    def has(self, key: str) -> bool:
        return key in self.templates
