"""What a model's reply may mention, read once per knowledge version from the clinic's own files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.dialogue.extract.doctors import DoctorIndex
from bot.dialogue.language import fold, morph, words
from bot.engine.reply_claims import amounts, free_of_charge
from bot.engine.reply_contacts import contacts, phone_numbers
from bot.knowledge.models import Knowledge

__all__ = ["EMERGENCY_NUMBERS", "KnowledgeFacts"]

EMERGENCY_NUMBERS = {"103", "112"}  # the bot itself sends patients there (conversation rules)


@dataclass
class KnowledgeFacts:
    """The names, words, numbers and contacts of the knowledge (clinic facts, FAQ, doctors)."""

    knowledge: Knowledge
    doctors: DoctorIndex
    name_lemmas: set[str] = field(default_factory=set)  # lemmas of every part of every doctor's name
    known_words: set[str] = field(default_factory=set)  # words of the clinic facts, the FAQ and the doctors
    faq_words: set[str] = field(default_factory=set)  # words of the clinic facts and the FAQ alone
    numbers: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)  # digits, national part for Russian numbers
    urls: set[str] = field(default_factory=set)  # as compared by reply_contacts.link_key
    emails: set[str] = field(default_factory=set)
    handles: set[str] = field(default_factory=set)  # without "@", folded
    free_things: set[str] = field(default_factory=set)  # lemmas of what the knowledge calls free

    @classmethod
    def build(cls, knowledge: Knowledge, doctors: DoctorIndex) -> KnowledgeFacts:
        facts = cls(knowledge, doctors)
        for doctor in knowledge.doctors:
            for part in doctor.full_name.split():
                facts.name_lemmas |= {fold(p.normal_form) for p in morph().parse(fold(part))}
        c = knowledge.clinic
        texts = [c.name, c.address, c.phone, c.hours_text, c.website, c.privacy_url, c.consent_url]
        texts += [c.telegram, c.whatsapp]
        texts += [f"{e.question}\n{e.answer}" for e in knowledge.faq]
        faq_blob = "\n".join(t for t in texts if t)
        doctors_blob = "\n".join(
            f"{d.full_name} {d.specialty} {d.note} {', '.join(d.services)}" for d in knowledge.doctors
        )
        blob = f"{faq_blob}\n{doctors_blob}"
        facts.faq_words = set(words(faq_blob))
        facts.known_words = set(words(blob))
        facts.numbers = amounts(texts + [d.note for d in knowledge.doctors])
        facts.numbers |= {re.sub(r"\D", "", n) for n in re.findall(r"\d[\d\s\u00a0-]*\d|\d", blob)}
        facts.numbers |= EMERGENCY_NUMBERS
        facts.urls, facts.emails, facts.handles = contacts(blob)
        facts.handles |= {u.split("/", 1)[1].split("/")[0] for u in facts.urls if u.startswith("t.me/")}
        facts.phones = phone_numbers(blob)
        facts.free_things = set().union(*free_of_charge(blob))
        return facts

    def is_doctor_word(self, word: str) -> bool:
        key = fold(word)
        if key in self.doctors.by_form:
            return True
        return bool({fold(p.normal_form) for p in morph().parse(key)} & self.name_lemmas)
