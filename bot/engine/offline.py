"""The offline engine: Russian understanding by code alone (pymorphy3, phonenumbers, rapidfuzz). The default."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.dialogue.extract.details import extract_details
from bot.dialogue.extract.doctors import DoctorIndex, DoctorMatch
from bot.dialogue.extract.faq import FaqIndex
from bot.dialogue.extract.intents import detect_intents
from bot.dialogue.extract.names import capitalise_name, extract_name, name_anywhere
from bot.dialogue.extract.phone import PhoneResult, all_phones, extract_phone, normalise_phone
from bot.dialogue.extract.visit import extract_visit, loose_visit
from bot.dialogue.extract.windows import extract_window
from bot.dialogue.language import clean, fold, lemma, words
from bot.dialogue.messages import Incoming
from bot.dialogue.state import ConversationState, Slot, Stage
from bot.engine.port import Engine, FaqHit, Intent, Understanding
from bot.knowledge.models import Doctor, FaqEntry, Knowledge
from sheets.schema import Visit

FAQ_THRESHOLD = 0.3
FAQ_STRONG = 0.55  # a statement with a service word is taken as this question only when the match is clear
# "нет, не она", "Петрова — это я": the patient says the surname is not the doctor asked for.
_NOT_HER = re.compile(r"\bне\b|\bнет\b|\bэто\s+я\b|\b(моя|мне)\s+фамилия\b|\bэто\s+моя\b")
# "не к терапевту, а к кардиологу", "не лор, а невролог": the second one replaces the first.
_SWAP = re.compile(r"\bне\s+(?P<dropped>[^.!?,]{2,40}?),?\s+а\s+(?P<wanted>[^.!?]+)")
_DOCTOR_MARKERS = re.compile(r"(\bк\b|\bко\b|врач|доктор|запис|специалист|поменя|другой|другому)")
# "Какие у вас врачи?", "кто у вас принимает?", "кто у вас лор?": the doctors list is asked for.
_WHO_DOCTORS = re.compile(
    r"((как(ие|ой|ая)|каких)\s+(у\s+вас\s+)?(есть\s+)?(врач|доктор|специалист)|"
    r"кто\s+(у\s+вас\s+)?(из\s+врачей\s+)?(принимает|ведет|работает|есть)|список\s+(врачей|специалистов)|"
    r"^кто\s+у\s+вас\s+\w+\s*\??$|^(а\s+)?кто\s+(ваш|у\s+вас)\b)"
)
# Laboratory tests: the doctors list has no such service, an administrator books them.
_LAB = re.compile(r"(\bанализ\w*|сдать\s+кровь|сдать\s+мочу|\bкровь\s+из\s+вены)")
# A complaint described in words, when no service of the doctors list fits it.
_COMPLAINT = re.compile(
    r"(\bбол(ь|и|ью|ей|ям|ями|ях|ит|ят|ел[аио]?|еть|езн\w*|ьн\w*)\b|беспоко\w*|\bноет\b|\bноют\b|\bтянет\b|\bколет\b|опух\w*|"
    r"воспал\w*|\bплохо\s+себя|\bпроблем\w*\s+с\b|\bжалоб\w*|\bзаболел\w*|\bпростыл\w*|травм\w*)"
)
# "Есть ли у вас эндокринолог?", "а узи у вас есть?": asking whether the clinic has a named specialist.
_HAVE_DOCTOR = re.compile(
    r"^(а\s+|подскажите,?\s+|скажите,?\s+)?(есть\s+ли\s+у\s+вас|у\s+вас\s+есть|есть\s+у\s+вас|"
    r"вы\s+делаете|делаете\s+ли|у\s+вас\s+(принимает|работает|делают))\b[^.!?]{0,40}\??\s*$|"
    r"^(а\s+)?\w+(\s+\w+)?\s+(у\s+вас\s+есть|есть\s+у\s+вас|у\s+вас\s+делают|делаете)\s*\??\s*$"
)
_QUESTION_SENTENCE = re.compile(r"[^.!?]*\?")
_HOURS_QUESTION = re.compile(
    r"(работаете|работает|открыт\w*|до\s+скольки|во\s+сколько|часы\s+работы|выходн\w*\s+ли)"
)
_ANOTHER = re.compile(r"\b(ещ[её]|также|тоже|втор\w+|дополнительно|отдельно)\b")
# A phone given as another way to reach the patient, not instead of the first one.
_SECOND_PHONE = re.compile(
    r"(втор\w+\s+(номер|телефон)|ещ[её]\s+(один\s+)?(номер|телефон)|дополнительн\w*|запасн\w*|"
    r"\bмуж\w*|\bжен[аыу]\b|\bмам[аыу]\b|\bпап[аыу]\b|\bдочер\w*|\bсына\b|если\s+не\s+дозвон\w*|"
    r"\bрабоч\w+\s+(номер|телефон))"
)
_CLAUSE = re.compile(r",|\s(?:и|а|или|но|а\s+также)\s")
_ASKS = re.compile(
    r"\b(сколько|как|где|когда|какие|какой|какая|почем|зачем|есть\s+ли|можно\s+ли|нужно\s+ли|надо\s+ли|"
    r"принимаете|работаете|делаете)\b(?!-)"
)
_NO_HIT = FaqHit(FaqEntry(question="", answer=""), 0.0)
# Words that name a field of the booking in a correction, in the order of FIX_FIELDS.
_FIELD_WORDS = (
    ("name", re.compile(r"\b(имя|имени|зовут)\b")),
    ("phone", re.compile(r"\b(телефон\w*|номер\w*)")),
    ("service", re.compile(r"\b(врач\w*|доктор\w*|специалист\w*|услуг\w*|направлени\w*|специальност\w*)")),
    ("window", re.compile(r"\b(время|времени|час|часы)\b")),
    ("visit", re.compile(r"\b(обращени\w*|первичн\w*|повторн\w*)")),
)
_ORDINALS = {
    "первый": 0,
    "первая": 0,
    "первому": 0,
    "первой": 0,
    "1": 0,
    "второй": 1,
    "вторая": 1,
    "второму": 1,
    "2": 1,
    "третий": 2,
    "третья": 2,
    "третьему": 2,
    "третьей": 2,
    "3": 2,
}


_DAY = r"(в|во)\s+(понедельник|вторник|среду|четверг|пятницу|субботу|воскресенье)"
# "Кузнецов сегодня принимает?", "а на завтра есть запись?": days and free slots are not in the knowledge.
_SCHEDULE = re.compile(
    r"((принима\w*|вед[её]т|будет)\s+(ли\s+)?(он\s+|она\s+)?(сегодня|завтра|послезавтра|_DAY|по\s+\w+(дням|ам))|"
    r"(сегодня|завтра|послезавтра|_DAY)\s+(он\s+|она\s+)?(принима|вед[её]т)|"
    r"когда\s+(\w+\s+)?(принимает|ведет|ведёт)|расписани\w*|график\w*\s+(врача|доктора|при[её]ма)|"
    r"в\s+какие\s+дни|какие\s+дни|свободн\w+\s+(время|окн\w*|мест\w*|запис\w*)|"
    r"(есть|будет)\s+(ли\s+)?(свободн\w+\s+)?(мест\w*|окошк\w*|окн\w*|запись)\s+на)".replace("_DAY", _DAY)
)
# "Соколов в среду работает?": the doctor's days (the clinic's own hours are in the FAQ).
_WORKS_ON = re.compile(
    r"(работа\w*\s+(ли\s+)?(он\s+|она\s+)?(сегодня|завтра|_DAY)|(сегодня|завтра|_DAY)\s+(он\s+|она\s+)?работа)".replace(
        "_DAY", _DAY
    )
)

# "к нему", "это", "у него": the message points back at what was just discussed.
_POINTS_BACK = re.compile(
    r"\b(него|нему|ним|нем|н[её]м|не[её]|ней|нею|это|этого|этому|эту|этой|этим|туда|он|она|оно|такое|"
    r"такой|такую|та\s+же|тот\s+же)\b"
)


def _last(state: ConversationState, who: str, skip: int = 0) -> str:
    """The last message of `who` in the history (the patient's current one is not there yet)."""
    said = [text for person, text in state.history if person == who]
    return said[-1 - skip] if len(said) > skip else ""


def _since_patient(state: ConversationState) -> str:
    """What the bot said after the patient's previous message."""
    said: list[str] = []
    for person, text in reversed(state.history):
        if person == "patient":
            break
        said.append(text)
    return " ".join(reversed(said))


def _context_of(state: ConversationState, text: str) -> str:
    """What a message that points back ("к нему", "это") is about: the patient's previous message."""
    if not _POINTS_BACK.search(fold(text)):
        return ""
    return _last(state, "patient")


@dataclass(frozen=True)
class _Indexes:
    knowledge: Knowledge
    doctors: DoctorIndex
    faq: FaqIndex


class OfflineEngine(Engine):
    name = "offline"

    def __init__(self, knowledge: Callable[[], Knowledge]) -> None:
        self.knowledge = knowledge
        self._indexes: _Indexes | None = None

    def indexes(self) -> _Indexes:
        """Indexes of the current knowledge, rebuilt only when the knowledge was reloaded."""
        current = self.knowledge()
        if self._indexes is None or self._indexes.knowledge is not current:
            self._indexes = _Indexes(current, DoctorIndex.build(current.doctors), FaqIndex.build(current.faq))
        return self._indexes

    async def understand(self, state: ConversationState, incoming: Incoming) -> Understanding:
        return self.understand_now(state, incoming)

    def understand_now(self, state: ConversationState, incoming: Incoming) -> Understanding:
        idx = self.indexes()
        text = clean(incoming.text)
        intents = detect_intents(text) if text else set()
        phone = PhoneResult()
        if incoming.contact_phone:
            shared = normalise_phone(incoming.contact_phone)
            phone = (
                PhoneResult(e164=shared) if shared else PhoneResult(problem="номер из контакта не распознан")
            )
        elif text:
            phone = extract_phone(text, expecting=state.awaiting == Slot.PHONE)
        if not text:
            return Understanding(intents=frozenset(intents), phone=phone.e164, phone_problem=phone.problem)

        # Only the name question takes any short word as the name; at the consent question a known first name
        # ("Михаил") or an introduced one is taken, a typo or an unknown word ("Сергй", "дда") is not.
        name = extract_name(text, expecting=state.awaiting == Slot.NAME)
        match = idx.doctors.match(text, among=tuple(state.choices))
        match = self._swapped(idx, text, match, intents)
        if not name and match.patient_name:
            name = capitalise_name(match.patient_name)  # "Надежда Кузнецова, ...", "Любовь Ивановна, ..."
        if not name and phone.e164 and not incoming.contact_phone:
            name = name_anywhere(text)  # "уролог Ольга +7 917 111-22-33": a name among the contacts
        if not (match.doctors or match.specialty or match.named) and _POINTS_BACK.search(fold(text)):
            # "запишите к нему" after the bot named a doctor: the doctor of the last reply
            said = _since_patient(state)
            earlier = idx.doctors.match(said) if said else None
            if earlier is not None and len(earlier.doctors) == 1:
                match = replace(match, doctors=earlier.doctors)
        if self._surname_is_the_patients(state, text):
            match = replace(match, doctors=())
            if state.awaiting in (Slot.NAME, Slot.PHONE) and not _NOT_HER.search(fold(text)):
                # "Петрова Анна" answering "как вас зовут?" after "к Петровой": her surname, the doctor stays
                kept = tuple(n for n in match.not_doctors if n != state.booking.doctor)
                match = replace(match, not_doctors=kept)
        doctors = match.doctors
        if state.awaiting == Slot.DOCTOR_CHOICE and state.choices and not doctors:
            doctors = self._choose(text, [d for d in idx.knowledge.doctors if d.full_name in state.choices])
            if not doctors and len(state.choices) == 1 and Intent.YES in intents and Intent.NO not in intents:
                doctors = (state.choices[0],)  # "Записать вас к нему?" — "да"
        if name and self._names_the_doctor(name, text, doctors):
            name = None  # "к врачу Иванова Марина" names the doctor, not the patient
        window = extract_window(text)
        visit = extract_visit(text, expecting=state.awaiting == Slot.VISIT)
        if state.awaiting == Slot.WINDOW and not visit and not window:
            visit = loose_visit(text)  # "впервыйе" to "когда удобнее? и вы у нас бывали?": the visit half
        if state.awaiting == Slot.VISIT and not visit and not window:  # "нет, лучше утром" is about the time
            if Intent.YES in intents:
                visit = Visit.REPEAT  # "Вы уже были у нас?" — "да"
            elif Intent.NO in intents:
                visit = Visit.FIRST
        if phone.e164 and Intent.NO in intents and state.awaiting == Slot.CONFIRM:
            intents.add(Intent.CORRECTION)
        extra = {"missing_specialty": match.missing_specialty} if match.missing_specialty else {}
        phone_e164 = self._details(state, text, match, phone.e164, extra)
        if phone_e164 != phone.e164:
            phone = PhoneResult(e164=phone_e164)
        if match.also and not doctors:
            extra["also"] = match.also[0]  # "к лору и к неврологу": the second is booked after the first
        if not (doctors or match.specialty or match.specialty_options or match.missing_specialty):
            low = fold(text)
            if _LAB.search(low):
                extra["lab"] = "yes"  # "сдать анализы": no such service in the doctors list
            elif _COMPLAINT.search(low) and not match.unknown:
                extra["complaint"] = "yes"  # something hurts, but nothing in the list fits it
        if _WHO_DOCTORS.search(fold(text)) and not doctors:
            extra["doctors_list"] = "yes"
        elif match.named and not doctors and _HAVE_DOCTOR.search(fold(text)):
            extra["doctors_list"] = "have"  # "есть ли у вас узи?": who does it, and booking offered
        if state.last_lead and _ANOTHER.search(fold(text)):
            extra["another"] = "yes"  # "и ещё к неврологу": a second request, not a change of the first
        if _SCHEDULE.search(fold(text)) or (doctors and _WORKS_ON.search(fold(text))):
            extra["schedule"] = "yes"  # a doctor's days or a free slot: the knowledge has no timetable
        fix = self._field_to_fix(state, text, intents)
        if fix == "service" and "another" in extra:
            fix = None
        if fix == "name" and not name:
            name = self._corrected_name(text)  # "имя исправьте: Александра", "поменяйте имя на Светлана"
        if fix and not self._has_value(fix, name, phone.e164, doctors, match.specialty, window, visit):
            extra["fix"] = fix  # "телефон не тот", "исправьте имя": ask for that field again
        u = Understanding(
            intents=frozenset(intents),
            name=name,
            phone=phone.e164,
            phone_problem=phone.problem,
            doctors=doctors,
            specialty=match.specialty,
            specialty_options=match.specialty_options,
            unknown_doctor=match.unknown,
            extra=extra,
            suggestions=match.suggestions,
            comment=match.comment,
            window=window,
            visit=visit,
        )
        if "doctors_list" in extra:
            return u  # answered from the doctors list, not the FAQ
        # A service named in answer to "к какому врачу?" is that answer, not a question about it.
        idle = state.stage == Stage.IDLE and state.awaiting != Slot.SERVICE
        return self._with_faq(u, text, idx, idle=idle, context=_context_of(state, text))

    @staticmethod
    def _details(
        state: ConversationState, text: str, match: DoctorMatch, phone: str | None, extra: dict[str, str]
    ) -> str | None:
        """What the administrator needs beyond the form (home visit, age, day, urgency, a second phone, the
        surname, doctors not meant) into `extra`; returns the phone to take as the patient's."""
        details = extract_details(text)
        for key, value in (
            ("home", details.home),
            ("bedridden", details.bedridden),
            ("urgent", details.urgent),
        ):
            if value:
                extra[key] = "yes"
        if details.age:
            extra["age"] = details.age
        if details.day and not _HOURS_QUESTION.search(fold(text)):
            extra["day"] = details.day  # not "вы в субботу работаете?": a question about the hours
        if match.patient_surname:
            extra["surname"] = capitalise_name(match.patient_surname)
        if match.not_doctors:
            extra["not_doctors"] = "|".join(match.not_doctors)
        phones = all_phones(text) if phone and len(re.findall(r"\d", text)) >= 20 else []
        if len(phones) > 1:
            extra["phone2"] = next(p for p in phones if p != phone)
        elif (
            phone
            and state.booking.phone
            and phone != state.booking.phone
            and _SECOND_PHONE.search(fold(text))
        ):
            extra["phone2"] = phone  # "запишите ещё номер мужа": the first phone stays the patient's
            return None
        return phone

    @staticmethod
    def _corrected_name(text: str) -> str | None:
        """The new name after "имя ...": past a colon or dash, "на", "правильно", "надо"."""
        parts = re.split(r"[:—–]|\s-\s|\bна\b|\bправильн\w*|\bверн\w*|\bнадо\b|\bнужно\b", text)
        tail = parts[-1].strip(" .,!)")
        if len(parts) < 2 or not tail:
            return None
        return extract_name(tail, expecting=True)

    @staticmethod
    def _field_to_fix(state: ConversationState, text: str, intents: set[str]) -> str | None:
        """The one booking field a correction names ("телефон не тот", or "время" after "что исправить?")."""
        correcting = (
            state.awaiting == Slot.CORRECTION
            or (state.stage == Stage.IDLE and bool(state.last_lead) and Intent.CORRECTION in intents)
            or (state.awaiting == Slot.CONFIRM and Intent.NO in intents)
            or (state.stage in (Stage.BOOKING, Stage.CONFIRM) and Intent.CORRECTION in intents)
        )
        if not correcting:
            return None
        low = fold(text)
        named = [name for name, pattern in _FIELD_WORDS if pattern.search(low)]
        return named[0] if len(named) == 1 else None

    @staticmethod
    def _has_value(field: str, *values: object) -> bool:
        name, phone, doctors, specialty, window, visit = values
        return bool(
            {
                "name": name,
                "phone": phone,
                "service": doctors or specialty,
                "window": window,
                "visit": visit,
            }[field]
        )

    @staticmethod
    def _names_the_doctor(name: str, text: str, doctors: tuple[str, ...]) -> bool:
        """The first name found is part of a chosen doctor's name written next to the surname."""
        tokens = words(text)
        key = fold(name)
        for doctor in doctors:
            parts = fold(doctor).split()
            if key not in parts[1:2]:
                continue
            surname = parts[0][:-1] if len(parts[0]) > 4 else parts[0]  # any case of the surname
            for i, token in enumerate(tokens):
                if token == key and any(
                    t.startswith(surname) for t in tokens[max(0, i - 1) : i] + tokens[i + 1 : i + 2]
                ):
                    return True
        return False

    @staticmethod
    def _swapped(idx: _Indexes, text: str, match: DoctorMatch, intents: set[str]) -> DoctorMatch:
        """ "не к терапевту, а к кардиологу": the doctor after "а" is the one meant, and it is a correction."""
        swap = _SWAP.search(fold(text))
        if swap is None:
            return match
        meant = idx.doctors.match(swap.group("wanted"))
        dropped = idx.doctors.match(swap.group("dropped"))
        if not (meant.doctors or meant.specialty) or not (
            dropped.doctors or dropped.specialty or dropped.unknown
        ):
            return match  # "не знаю, а к кардиологу можно?": no doctor was taken back
        intents.add(Intent.CORRECTION)
        gone = tuple(n for n in dict.fromkeys(match.not_doctors + dropped.doctors) if n not in meant.doctors)
        return replace(meant, not_doctors=gone, patient_surname=match.patient_surname)

    @staticmethod
    def _surname_is_the_patients(state: ConversationState, text: str) -> bool:
        """ "Иванова Мария" answering "как вас зовут?" is the patient, not the doctor Иванова."""
        if state.awaiting not in (Slot.NAME, Slot.PHONE, Slot.CONSENT) or not (
            state.booking.doctor or state.booking.specialty
        ):
            return False
        return not _DOCTOR_MARKERS.search(fold(text))

    @staticmethod
    def _choose(text: str, choices: list[Doctor]) -> tuple[str, ...]:
        tokens = words(text)
        for token in tokens:
            if token in _ORDINALS and _ORDINALS[token] < len(choices):
                return (choices[_ORDINALS[token]].full_name,)
        lemmas = {lemma(t) for t in tokens}
        picked = [
            d
            for d in choices
            if fold(d.specialty) in fold(text)
            or lemma(fold(d.specialty)) in lemmas
            or any(lemma(p) in lemmas for p in fold(d.full_name).split()[1:])
        ]
        return tuple(d.full_name for d in picked) if len(picked) == 1 else ()

    @staticmethod
    def _with_faq(
        u: Understanding, text: str, idx: _Indexes, *, idle: bool = False, context: str = ""
    ) -> Understanding:
        if not re.search(r"[а-яё]", fold(text)):
            return u
        question = Intent.QUESTION in u.intents
        # "нужна справка для налогового вычета": a service word, but a question the FAQ answers well
        service_only = (
            idle
            and Intent.BOOKING not in u.intents
            and not (u.name or u.phone or u.doctors or u.window or u.visit or u.unknown_doctor)
        )
        if u.has_booking_facts and not question:
            if not service_only:
                return u
            strong = tuple(FaqHit(h.entry, h.score) for h in idx.faq.search(text) if h.score >= FAQ_STRONG)
            if not strong:
                return u
            return replace(u, faq=strong, intents=u.intents | {Intent.QUESTION})
        hits = idx.faq.search(text)
        if context and question:
            # "как подготовиться к нему?": the service just discussed decides which preparation is meant
            hits = [h for h in idx.faq.search(f"{text} {context}") if h.score >= FAQ_THRESHOLD] or hits
        long_story = question and not any(h.score >= FAQ_THRESHOLD for h in hits) and len(text.split()) > 8
        if question and (u.has_booking_facts or long_story):
            # "где вы находитесь? хочу к урологу", "Папе 85 лет, лежачий... Можно врача на дом?": the
            # question is judged on its own sentence too, not drowned in the story around it
            for sentence in _QUESTION_SENTENCE.findall(text)[:2]:
                hits += idx.faq.search(sentence)
                # "сколько стоит приём у невролога и можно ли на завтра?": each part of it on its own
                parts = [p for p in _CLAUSE.split(sentence) if len(p.split()) >= 3 and _ASKS.search(fold(p))]
                for part in parts[:4] if len(parts) > 1 else ():
                    hits += idx.faq.search(part)
        best: dict[str, FaqHit] = {}
        for hit in hits:
            if hit.score >= FAQ_THRESHOLD and hit.score > best.get(hit.entry.question, _NO_HIT).score:
                best[hit.entry.question] = FaqHit(hit.entry, hit.score)
        good = tuple(sorted(best.values(), key=lambda h: h.score, reverse=True))
        guess = question and not good and not u.has_booking_facts and idx.faq.says_something(text)
        if not good and not guess:
            return u
        return replace(u, faq=good, faq_guess=guess)
