"""The patient-facing texts: loaded from `prompts/replies.toml` by the operator's files, used by the core."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.dialogue.flow_texts import FLOW_FALLBACKS

# Texts added after operators may already have their own `replies.toml`: used when their file lacks the key
# (the project's file has them all, with the same wording).
FALLBACKS: dict[str, str] = {
    "lab_callback": "Могу передать вашу просьбу администратору: оставьте имя и телефон, и он перезвонит, "
    "чтобы записать вас на анализы. Оставить заявку на звонок?",
    "lab_service": "Анализы",
    "btn_lab_callback": "Да, пусть перезвонят",
    "after_done_ok": "Отлично! Ваша заявка уже у администратора — он перезвонит {when}. Если понадобится "
    "записаться ещё к одному врачу, просто напишите, к какому.",
    "after_done_no": "Хорошо! Администратор перезвонит вам {when}. Всего доброго, будьте здоровы!",
    "ok_no": "Хорошо. Если появятся вопросы или захотите записаться — просто напишите, я на связи.",
    "booking_cancelled": "Хорошо, не записываю — заявку администратору не отправляю. Если передумаете, "
    "просто напишите, и я вас запишу.",
    "second_booking_later": "Ко второму специалисту ({second}) оформлю отдельную заявку сразу после этой.",
    "second_booking_now": "Теперь вторая заявка — {service}.",
    "lab_tests": "Запись на анализы ведёт администратор — он подскажет, какие анализы можно сдать, стоимость и "
    "подготовку. Позвоните нам: {phone} — или нажмите «Позвать администратора», и он ответит здесь. Если нужен "
    "приём врача, напишите, к какому специалисту вас записать.",
    "unclear_complaint": "Понимаю. Чтобы подобрать врача, подскажите, пожалуйста, подробнее, что беспокоит, "
    "или выберите специалиста.",
    "therapist_hint": "Если не уверены, начните с терапевта — он осмотрит и при необходимости направит к "
    "нужному врачу.",
    "doctor_dropped": "Поняла, к врачу {doctor} не записываю.",
    "closed_day": "Обратите внимание: {day} клиника не работает (часы работы: {hours}). Я отмечу ваше "
    "пожелание, а администратор предложит ближайший свободный день.",
    "amended": "Исправила в вашей заявке: {changes}. Администратор увидит изменения.",
}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


@dataclass(frozen=True)
class Texts:
    """Templates by key; a key may hold several variants (one is picked) so the bot does not sound canned."""

    templates: Mapping[str, str | list[str]]
    seed: int | None = None

    def get(self, key: str, **values: Any) -> str:
        template = self.templates.get(key, FALLBACKS.get(key, ""))
        if isinstance(template, list):
            template = (
                random.Random(self.seed).choice(template)
                if self.seed is not None
                else random.choice(template)
            )
        return str(template).format_map(_Blank(values)).strip()

    def has(self, key: str) -> bool:
        return key in self.templates or key in FALLBACKS


FALLBACKS.update(FLOW_FALLBACKS)
