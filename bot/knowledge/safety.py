"""`KNOWLEDGE_DIR/safety.toml`: the emergency numbers, crisis lines and advice texts, editable by the operator.

Without the file the embedded defaults below are used; a key the file leaves out keeps its default. A file
that cannot be read is reported with its line, and the defaults are used meanwhile: an emergency must never
go unanswered because of a typo in a text file.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Protocol

from bot.knowledge.models import SafetyInfo

__all__ = ["CATEGORIES", "DEFAULT_SAFETY", "SAFETY_FILE", "load_safety"]

SAFETY_FILE = "safety.toml"

# What each category is called in the administrators' alert (never shown to the patient as a diagnosis).
CATEGORIES: dict[str, str] = {
    "chest": "боль или давление в груди",
    "breathing": "затруднённое дыхание, удушье",
    "stroke": "асимметрия лица, нарушение речи, слабость в руке или ноге",
    "unconscious": "потеря сознания, обморок",
    "seizure": "судороги",
    "bleeding": "сильное кровотечение",
    "overdose": "отравление таблетками или химией",
    "poisoning": "отравление",
    "abdomen": "острая боль в животе с температурой или рвотой",
    "infant_fever": "температура у грудного ребёнка",
    "high_fever": "очень высокая температура",
    "anaphylaxis": "отёк горла или лица, тяжёлая аллергическая реакция",
    "injury": "тяжёлая травма или ожог",
    "pregnancy": "кровотечение или боль при беременности",
    "suicide": "мысли о самоубийстве",
    "other": "признаки неотложного состояния",
}

_TEXTS: dict[str, str] = {
    "urgent": "Такие признаки требуют срочной помощи. Пожалуйста, не ждите записи к врачу — вызовите скорую "
    "прямо сейчас: {ambulance} (или {emergency} с мобильного). {advice}",
    "after": "Когда станет лучше и захотите записаться на приём, просто напишите — я помогу.",
    "soft": "Если такое повторится или станет хуже — не ждите приёма, сразу вызывайте скорую помощь.",
    "caution": "Если это происходит прямо сейчас, сильно или нарастает — не ждите приёма, вызовите скорую: "
    "{ambulance} (или {emergency} с мобильного).",
    "question": "Я не могу оценить состояние по переписке. Если боль сильная или нарастает, есть высокая "
    "температура, рвота, кровь, сильная слабость или что-то пугает — не ждите записи, вызывайте скорую: "
    "{ambulance} (или {emergency} с мобильного). Если самочувствие стабильное, лучше показаться врачу в "
    "ближайшее время — я могу записать вас, если захотите.",
    "suicide": "Мне очень жаль, что сейчас так тяжело. Вы не одни, и поговорить можно прямо сейчас — там "
    "выслушают и помогут, бесплатно и анонимно:\n{lines}\nЕсли есть опасность прямо сейчас — звоните "
    "{emergency} или {ambulance}. Пожалуйста, не оставайтесь с этим одни: побудьте рядом с тем, кому "
    "доверяете (а если речь о близком человеке — не оставляйте его одного). Я здесь, если захотите написать.",
    "alert": "СРОЧНО: {label}. Пациенту посоветовано вызвать скорую ({ambulance}/{emergency}); свяжитесь с ним "
    "как можно скорее.",
    "alert_suicide": "СРОЧНО: {label}. Пациенту даны телефоны доверия и {emergency}; свяжитесь с ним как можно "
    "скорее.",
    "hold": "Хорошо. Берегите себя и не откладывайте помощь. Когда захотите записаться на приём, просто "
    "напишите.",
    "hold_suicide": "Я здесь. Если станет тяжелее, пожалуйста, позвоните на телефон доверия {line} или {emergency}. "
    "Если захотите, напишите мне.",
    "comment": "срочно",
}
_ADVICE: dict[str, str] = {
    "chest": "Пока едет бригада, сядьте или полусядьте, расстегните тесную одежду, не оставайтесь одни и не "
    "садитесь за руль.",
    "breathing": "Откройте окно, помогите сесть, ослабьте тесную одежду. Если человек подавился и не может "
    "кашлять или говорить — это особенно срочно.",
    "stroke": "Запомните время, когда это началось, — врачам это важно. Уложите человека с приподнятой "
    "головой, не давайте еды, питья и лекарств.",
    "unconscious": "Проверьте, дышит ли человек; если дышит — осторожно поверните его на бок. Не оставляйте "
    "одного и не давайте пить.",
    "seizure": "Уберите рядом острые и твёрдые предметы, подложите что-то мягкое под голову, ничего не "
    "вставляйте в рот и не удерживайте силой. Засеките время.",
    "bleeding": "Плотно прижмите рану чистой тканью и держите, не отпуская. Если кровь из носа — наклоните "
    "голову вперёд, а не назад.",
    "overdose": "Сохраните упаковку или остатки того, что было выпито или съедено, — покажите врачам. Не "
    "оставляйте человека одного.",
    "poisoning": "Сохраните остатки того, что было съедено или выпито, — покажите врачам.",
    "abdomen": "До осмотра врача не принимайте обезболивающие, не грейте живот и не ешьте.",
    "infant_fever": "У малышей такая температура требует осмотра врача без промедления. Не укутывайте ребёнка.",
    "high_fever": "Не укутывайте больного; если есть сильная слабость, спутанность или сыпь — это тем более срочно.",
    "anaphylaxis": "Уберите то, что могло вызвать реакцию; если врач раньше назначал лекарство на такой "
    "случай — используйте его, как назначено. Помогите сесть, не оставляйте одного.",
    "injury": "Не двигайте пострадавшего без необходимости, особенно после падения или удара головой. Ожог "
    "охладите прохладной проточной водой.",
    "pregnancy": "Лягте и не принимайте лекарства без назначения врача; возьмите с собой обменную карту.",
    "other": "Не оставайтесь одни, пока не приедет помощь.",
}
_LINES: tuple[tuple[str, str], ...] = (
    ("8-800-2000-122", "телефон доверия для детей, подростков и их родителей (с мобильного также 124)"),
    ("8-800-333-44-34", "бесплатная круглосуточная линия психологической помощи"),
)
DEFAULT_SAFETY = SafetyInfo(crisis_lines=_LINES, texts=tuple(_TEXTS.items()), advice=tuple(_ADVICE.items()))
_PLACEHOLDER = re.compile(r"{(\w*)}")
_ALLOWED = {"ambulance", "emergency", "advice", "lines", "line", "label"}


class _Report(Protocol):
    def warn(self, file: str, line: int, message: str, fix: str = "") -> None: ...
    def error(self, file: str, line: int, message: str, fix: str = "") -> None: ...


def _line(text: str, key: str) -> int:
    pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")
    return next((n for n, line in enumerate(text.splitlines(), 1) if pattern.match(line)), 0)


def _strings(data: Any, where: str, text: str, report: _Report, known: set[str] | None) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        report.warn(
            SAFETY_FILE,
            _line(text, where),
            f"`{where}` записан не таблицей",
            f'пишите [{where}], а под ним key = "..."',
        )
        return {}
    out = {}
    for key, value in data.items():
        line = _line(text, key)
        if known is not None and key not in known:
            report.warn(
                SAFETY_FILE,
                line,
                f"[{where}] «{key}» — неизвестное имя",
                f"используйте одно из: {', '.join(known)}",
            )
            continue
        if not isinstance(value, str) or not value.strip():
            report.warn(
                SAFETY_FILE, line, f"[{where}] {key}: нет текста; бот говорит текст по умолчанию",
                "впишите текст между кавычками",
            )  # fmt: skip
            continue
        unknown = [name for name in _PLACEHOLDER.findall(value) if name not in _ALLOWED]
        if unknown:
            report.warn(
                SAFETY_FILE, line,
                f"[{where}] {key}: неизвестная подстановка {{{unknown[0]}}}",
                "можно {ambulance}, {emergency}, {advice}, {lines}",
            )  # fmt: skip
            continue
        out[key] = value.strip()
    return out


def load_safety(directory: Path, report: _Report) -> SafetyInfo:
    """The operator's `safety.toml` over the embedded defaults."""
    path = directory / SAFETY_FILE
    if not path.exists():
        return DEFAULT_SAFETY
    try:
        text = path.read_bytes().decode("utf-8-sig")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        report.error(
            SAFETY_FILE, 0, "файл не в кодировке UTF-8 (бот говорит тексты по умолчанию)",
            "сохраните его заново в кодировке UTF-8",
        )  # fmt: skip
        return DEFAULT_SAFETY
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"line (\d+)", str(exc))
        report.error(
            SAFETY_FILE, int(at.group(1)) if at else 0,
            f"файл не читается: {exc} (бот говорит тексты по умолчанию)",
            "проверьте кавычки и знак = в этой строке",
        )  # fmt: skip
        return DEFAULT_SAFETY
    except OSError as exc:
        report.error(
            SAFETY_FILE, 0, f"файл не читается: {exc.strerror or exc} (бот говорит тексты по умолчанию)",
            "проверьте права на файл",
        )  # fmt: skip
        return DEFAULT_SAFETY
    numbers = {}
    for key in ("ambulance", "emergency"):
        value = data.get(key, getattr(DEFAULT_SAFETY, key))
        if not isinstance(value, str | int) or not str(value).strip():
            report.warn(
                SAFETY_FILE, _line(text, key), f"{key}: нет номера; бот берёт номер по умолчанию",
                f'впишите номер между кавычками, например {key} = "103"',
            )  # fmt: skip
            value = getattr(DEFAULT_SAFETY, key)
        numbers[key] = str(value).strip()
    lines = list(_LINES)
    raw_lines = data.get("crisis_lines")
    if raw_lines is not None:
        parsed = [
            (str(item.get("phone", "")).strip(), str(item.get("name", "")).strip())
            for item in (raw_lines if isinstance(raw_lines, list) else [])
            if isinstance(item, dict)
        ]
        if not parsed or any(not phone for phone, _ in parsed):
            report.warn(
                SAFETY_FILE, _line(text, "phone") or _line(text, "crisis_lines"),
                "телефоны доверия: у каждой записи [[crisis_lines]] нужен телефон; бот берёт номера по умолчанию",
                'в каждой [[crisis_lines]] пишите phone = "..." и name = "..."',
            )  # fmt: skip
        else:
            lines = parsed
    texts = _TEXTS | _strings(data.get("texts"), "texts", text, report, set(_TEXTS))
    advice = _ADVICE | _strings(data.get("advice"), "advice", text, report, set(CATEGORIES))
    return SafetyInfo(
        ambulance=numbers["ambulance"],
        emergency=numbers["emergency"],
        crisis_lines=tuple(lines),
        texts=tuple(texts.items()),
        advice=tuple(advice.items()),
    )
