"""Doctors by surname in any case, specialties by name or synonym, and services/complaints from `Услуги`."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from rapidfuzz import fuzz, process

from bot.dialogue.extract.self_intro import name_kind, name_pair, self_intro
from bot.dialogue.language import content_lemmas, fold, lemma, morph, words
from bot.knowledge.models import Doctor

# How patients name specialties; keys are folded specialty names of the doctors list.
SPECIALTY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "лор": (
        "лор",
        "лора",
        "лору",
        "лором",
        "лоре",
        "лоры",
        "лорам",
        "отоларинголог",
        "оториноларинголог",
        "ухогорлонос",
        "ухо-горло-нос",
        "lor",
    ),
    "терапевт": ("терапевт", "участковый", "врач общей практики", "терапевта"),
    "гинеколог": ("гинеколог", "гинекология", "гинеколога", "женский врач"),
    "кардиолог": ("кардиолог", "кардиология", "сердечник"),
    "невролог": ("невролог", "невропатолог", "неврология"),
    "хирург": ("хирург", "хирургия"),
    "эндокринолог": ("эндокринолог", "эндокринология"),
    "врач узи": ("узи", "узист", "ультразвук", "ультразвуковое"),
    "педиатр": ("педиатр", "детский врач", "детского врача", "детскому врачу", "педиатрия"),
    "офтальмолог": ("офтальмолог", "окулист", "глазной", "глазник", "окулиста"),
    "дерматолог": ("дерматолог", "кожник", "дерматовенеролог", "дерматология"),
    "уролог": ("уролог", "урология"),
    "гастроэнтеролог": ("гастроэнтеролог", "гастроэнтерология", "гастроэнтерологу"),
    "травматолог-ортопед": ("травматолог", "ортопед", "травматология", "травмпункт"),
    "стоматолог": ("стоматолог", "зубной", "дантист", "зуб", "зубы", "кариес", "пломба"),
    "психотерапевт": ("психотерапевт", "психолог"),
}
_GENERIC = {"врач", "доктор", "специалист", "прием", "приём"}
# Words that say something hurts but not what: "болит спина" and "боль в спине" are one complaint.
_CHILD = {
    "ребёнок",
    "ребенок",
    "сын",
    "дочь",
    "дочка",
    "сынок",
    "малыш",
    "младенец",
    "дети",
    "детский",
    "грудничок",
}
_PAIN = {"болеть", "боль", "больно", "болезненный", "побаливать", "заболеть", "ныть", "беспокоить", "болить"}
# How patients describe a complaint -> the word the doctors list uses for it (applied only when the list has
# that word): "высыпания" is "сыпь", "заложен нос" is "заложенность носа", "подвернул ногу" a sprain.
PATIENT_WORDS: dict[str, str] = {
    "высыпание": "сыпь",
    "высыпать": "сыпь",
    "обсыпать": "сыпь",
    "чесаться": "зуд",
    "зудеть": "зуд",
    "прыщик": "прыщ",
    "заложить": "заложенность",
    "заложенный": "заложенность",
    "сопля": "насморк",
    "сопли": "насморк",
    "подвернуть": "растяжение",
    "потянуть": "растяжение",
    "растянуть": "растяжение",
    "вывихнуть": "вывих",
    "сломать": "перелом",
    "ушибить": "ушиб",
    "удариться": "ушиб",
    "порезаться": "порез",
    "порезать": "порез",
    "кружиться": "головокружение",
    "тошнить": "тошнота",
    "мутить": "тошнота",
    "пучить": "вздутие",
    "кашлять": "кашель",
    "температурить": "температура",
    "простыть": "простуда",
    "простудиться": "простуда",
    "гипертонический": "гипертония",
    "давлений": "давление",
    "видеть": "зрение",
    "беременный": "беременность",
    "забеременеть": "беременность",
    "мочиться": "мочеиспускание",
    "щитовидный": "щитовидка",
    "уснуть": "бессонница",
    "заснуть": "бессонница",
    "родимый": "родинка",
    "храпеть": "храп",
}
_BEFORE_DOCTOR = {"к", "ко", "у", "доктор", "доктору", "доктора", "врач", "врачу", "врача", "на"}


def doctor_gender(doctor: Doctor) -> str:
    parts = fold(doctor.full_name).split()
    patronymic = parts[2] if len(parts) > 2 else ""
    if patronymic.endswith(("вна", "чна", "кызы")):
        return "femn"
    if patronymic.endswith(("ич", "оглы")):
        return "masc"
    return "femn" if parts and parts[0].endswith(("а", "ая", "я")) else "masc"


def surname_forms(surname: str, gender: str) -> set[str]:
    """Every case form of a surname for that gender ("Смирнова" -> смирнова, смирновой, смирнову)."""
    key = fold(surname)
    forms = {key}
    for parse in morph().parse(key):
        if "Surn" in parse.tag and gender in parse.tag:
            forms |= {fold(f.word) for f in parse.lexeme if gender in f.tag and "sing" in f.tag}
            break
    else:
        forms |= _rule_forms(key, gender)
    return forms


def _word_forms(word: str, grammeme: str, gender: str) -> set[str]:
    """Singular case forms of a first name or patronymic ("Викторовна" -> викторовне, викторовну...)."""
    key = fold(word)
    for parse in morph().parse(key):
        if grammeme in parse.tag:
            return {fold(f.word) for f in parse.lexeme if "sing" in f.tag and gender in f.tag} | {key}
    return {key}


def _term_forms(term: str) -> set[str]:
    """Every case and number form of a one-word specialty term ("кардиолог" -> кардиологу, кардиологом...)."""
    parses = [p for p in morph().parse(term) if p.tag.POS in ("NOUN", "ADJF")]
    if not parses or "Fixd" in parses[0].tag:
        return {term}
    return {fold(f.word) for f in parses[0].lexeme} | {term}


def _rule_forms(key: str, gender: str) -> set[str]:
    if gender == "masc" and key.endswith(("ов", "ев", "ин", "ын", "ёв")):
        return {key + e for e in ("а", "у", "ым", "е")}
    if gender == "femn" and key.endswith(("ова", "ева", "ина", "ына")):
        return {key[:-1] + e for e in ("ой", "у")}
    if key.endswith("ский"):
        return {key[:-2] + e for e in ("ого", "ому", "им", "ом")}
    if key.endswith("ская"):
        return {key[:-2] + e for e in ("ой", "ую")}
    if gender == "masc" and re.search(r"[бвгджзклмнпрстфхцчшщ]$", key):
        return {key + e for e in ("а", "у", "ом", "е")}
    return set()


@lru_cache(maxsize=4096)
def _first_name_forms(full_name: str, gender: str) -> frozenset[str]:
    parts = full_name.split()
    return frozenset(_word_forms(parts[1], "Name", gender)) if len(parts) > 1 else frozenset()


@lru_cache(maxsize=20_000)
def _known_word(token: str) -> bool:
    return bool(morph().word_is_known(token))


@dataclass(frozen=True, slots=True)
class DoctorMatch:
    doctors: tuple[str, ...] = ()
    specialty: str | None = None
    specialty_options: tuple[str, ...] = ()
    unknown: str | None = None
    suggestions: tuple[str, ...] = ()
    comment: str | None = None
    missing_specialty: str | None = None  # a specialty patients name that this clinic does not have
    also: tuple[str, ...] = ()  # further specialties named in the same message ("к лору и к неврологу")
    named: bool = False  # the specialty was named as such ("лор", "кардиолог"), not found from a complaint
    full_name: bool = False  # the doctor was named with first name and patronymic
    asked: bool = False  # a doctor's surname after "к", "у", "доктор": asked for, not merely mentioned
    # Doctors whose surname the patient said but did not ask for: "не к Петровой", "Кузнецова это я".
    not_doctors: tuple[str, ...] = ()
    patient_surname: str = ""  # the patient's own surname, as written ("кузнецова"), for the comment
    patient_name: str = ""  # the first name of the patient's self-introduction ("надежда")


@dataclass
class _Service:
    phrase: str
    lemmas: tuple[str, ...]
    specialty: str
    required: frozenset[str] = frozenset()  # the lemmas a message must have: all but the pain words

    def __post_init__(self) -> None:
        self.required = frozenset(lem for lem in self.lemmas if lem not in _PAIN) or frozenset(self.lemmas)


@dataclass
class DoctorIndex:
    """Built once per knowledge version; answers in microseconds per message."""

    doctors: tuple[Doctor, ...]
    by_form: dict[str, list[Doctor]] = field(default_factory=dict)
    # patronymic form -> (doctor, forms of the doctor's first name): "к Елене Викторовне"
    by_patronymic: dict[str, list[tuple[Doctor, frozenset[str]]]] = field(default_factory=dict)
    specialty_keys: dict[str, str] = field(default_factory=dict)  # word, lemma or case form -> specialty
    specialty_choices: list[str] = field(default_factory=list)  # the keys, for typo matching
    specialty_phrases: list[tuple[str, str]] = field(default_factory=list)  # multiword synonym -> specialty
    services: list[_Service] = field(default_factory=list)
    service_lemmas: set[str] = field(default_factory=set)
    services_by_lemma: dict[str, list[int]] = field(default_factory=dict)  # lemma -> positions in services
    long_lemmas: dict[str, list[str]] = field(default_factory=dict)  # initial -> service lemmas of 5+ letters
    absent: dict[str, str] = field(default_factory=dict)  # word or lemma -> a specialty the clinic lacks
    children: str | None = None  # the specialty whose services are about children (a paediatrician)

    @classmethod
    def build(cls, doctors: tuple[Doctor, ...]) -> DoctorIndex:
        index = cls(doctors)
        for doctor in doctors:
            gender = doctor_gender(doctor)
            for form in surname_forms(doctor.surname, gender):
                index.by_form.setdefault(form, []).append(doctor)
            parts = doctor.full_name.split()
            if len(parts) >= 3:
                first = frozenset(_word_forms(parts[1], "Name", gender))
                for form in _word_forms(parts[2], "Patr", gender):
                    index.by_patronymic.setdefault(form, []).append((doctor, first))
        for specialty in dict.fromkeys(d.specialty for d in doctors):
            key = fold(specialty)
            terms = {w for part in words(key) for w in part.split("-")} | {key}
            terms |= set(SPECIALTY_SYNONYMS.get(key, ()))
            for term in terms - _GENERIC:
                if " " in term:
                    index.specialty_phrases.append((term, specialty))
                else:
                    for form in _term_forms(term):
                        index.specialty_keys.setdefault(form, specialty)
                    index.specialty_keys.setdefault(lemma(term), specialty)
        index.specialty_choices = list(index.specialty_keys)
        child_counts: dict[str, int] = {}
        for doctor in doctors:
            for phrase in doctor.services:
                if _CHILD & set(content_lemmas(phrase)):
                    child_counts[doctor.specialty] = child_counts.get(doctor.specialty, 0) + 1
        index.children = max(child_counts, key=lambda k: child_counts[k]) if child_counts else None
        present = {fold(s) for s in dict.fromkeys(d.specialty for d in doctors)}
        for key, synonyms in SPECIALTY_SYNONYMS.items():
            if key not in present:
                for term in synonyms:
                    if " " not in term:
                        index.absent.setdefault(lemma(term), synonyms[0])
        seen: set[tuple[tuple[str, ...], str]] = set()
        for doctor in doctors:
            for phrase in doctor.services:
                lem = tuple(content_lemmas(phrase))
                if lem and (lem, doctor.specialty) not in seen:
                    seen.add((lem, doctor.specialty))
                    index.services.append(_Service(phrase, lem, doctor.specialty))
                    index.service_lemmas |= set(lem)
        for position, service in enumerate(index.services):
            for word in service.required:
                index.services_by_lemma.setdefault(word, []).append(position)
        for word in sorted(index.service_lemmas):
            if len(word) >= 5:
                index.long_lemmas.setdefault(word[0], []).append(word)
        return index

    def match(self, text: str, *, among: tuple[str, ...] = ()) -> DoctorMatch:
        tokens = words(text)
        intro = self_intro(tokens)
        by_surname = self._by_surname(text, tokens, among, intro.positions)
        found = self._match(text, tokens, by_surname)
        surname = intro.surname or by_surname.patient_surname
        first_name = intro.first_name or by_surname.patient_name
        if surname or first_name or found.not_doctors:
            mentioned = tuple(d.full_name for d in self.by_form.get(surname, ()))
            gone = tuple(n for n in dict.fromkeys(found.not_doctors + mentioned) if n not in found.doctors)
            return replace(found, not_doctors=gone, patient_surname=surname, patient_name=first_name)
        return found

    def _match(self, text: str, tokens: list[str], found: DoctorMatch) -> DoctorMatch:
        lemmas_ = [lemma(t) for t in tokens]
        specialty = self._specialty(tokens, lemmas_, fold(text))
        if found.doctors and specialty and not found.full_name:
            # An explicit specialty outranks a surname: the doctors of it among those named, or, when the
            # surname was only mentioned (not "к Петровой"), the specialty alone.
            by_name = {d.full_name: d for d in self.doctors}
            fitting = tuple(n for n in found.doctors if by_name[n].specialty == specialty)
            if fitting:
                return replace(found, doctors=fitting)
            if not found.asked:
                found = DoctorMatch(not_doctors=found.doctors + found.not_doctors)
        unknown = None
        if found.unknown and specialty:
            # "к Сидоровой, гинекологу": the specialty, and the patient is told there is no Сидорова
            unknown, found = found.unknown, DoctorMatch(not_doctors=found.not_doctors)
        if found.doctors or found.unknown:
            return found
        said = set(lemmas_)
        said |= {PATIENT_WORDS[lem] for lem in said if PATIENT_WORDS.get(lem) in self.service_lemmas}
        service, options = self._service(said)
        if specialty:
            also = tuple(
                dict.fromkeys(
                    other
                    for token, lem in zip(tokens, lemmas_, strict=True)
                    if (other := self.specialty_keys.get(token) or self.specialty_keys.get(lem))
                    and other != specialty
                )
            )
            return DoctorMatch(
                specialty=specialty,
                comment=service.phrase if service else None,
                also=also,
                named=True,
                not_doctors=found.not_doctors,
                unknown=unknown,
            )
        gone = found.not_doctors
        if self.children and _CHILD & set(lemmas_) and (service or options):
            # A child with a complaint goes to the paediatrician first, as clinics do.
            return DoctorMatch(
                specialty=self.children, comment=service.phrase if service else None, not_doctors=gone
            )
        if service and not options:
            return DoctorMatch(specialty=service.specialty, comment=service.phrase, not_doctors=gone)
        if options:
            return DoctorMatch(
                specialty_options=options, comment=service.phrase if service else None, not_doctors=gone
            )
        for lem in lemmas_:
            if lem in self.absent:
                return DoctorMatch(missing_specialty=self.absent[lem], not_doctors=gone)
        return DoctorMatch(not_doctors=gone)

    def _by_surname(
        self, text: str, tokens: list[str], among: tuple[str, ...], mine: frozenset[int] = frozenset()
    ) -> DoctorMatch:
        hits: dict[str, None] = {}
        named: dict[str, None] = {}  # doctors named with first name and patronymic: these settle a tie
        negated: dict[str, None] = {}  # "не к Петровой", "не Иванова"
        patient = ("", "")  # (surname, first name) of a "Надежда Кузнецова" written without "к"
        asked = False
        for i, token in enumerate(tokens):
            for doctor in self.by_form.get(token, ()) if i not in mine else ():
                before = tokens[i - 1] if i else ""
                if before == "не" or (before in ("к", "ко", "у") and i > 1 and tokens[i - 2] == "не"):
                    negated.setdefault(doctor.full_name, None)
                    continue
                pair = name_pair(tokens, i)
                if pair and pair not in self._first_name_forms(doctor):
                    negated.setdefault(doctor.full_name, None)  # "Надежда Кузнецова, ...": the patient
                    patient = (token, pair)
                    continue
                asked = asked or before in _BEFORE_DOCTOR
                hits.setdefault(doctor.full_name, None)
            # "к Елене Викторовне", "Иванова Марина Сергеевна"; not the patient's own "я Марина Сергеевна"
            for doctor, first_names in self.by_patronymic.get(token, ()) if i >= 2 else ():
                before = tokens[i - 2]
                if tokens[i - 1] in first_names and (
                    before in _BEFORE_DOCTOR or doctor in self.by_form.get(before, ())
                ):
                    named.setdefault(doctor.full_name, None)
        gone = tuple(n for n in negated if n not in hits and n not in named)
        if patient[0] and not hits and not named:
            return DoctorMatch(not_doctors=gone, patient_surname=patient[0], patient_name=patient[1])
        if named:
            return DoctorMatch(doctors=tuple(named), full_name=True, asked=True, not_doctors=gone)
        if among:
            chosen = [name for name in hits if name in among]
            if chosen:
                return DoctorMatch(doctors=tuple(chosen), asked=asked, not_doctors=gone)
        if hits:
            return DoctorMatch(doctors=tuple(hits), asked=asked, not_doctors=gone)
        if gone:
            return DoctorMatch(not_doctors=gone)
        # A typo in a surname ("Смирновй"), or a doctor we do not have ("к Пупкину").
        original = re.findall(r"[А-ЯЁа-яё]+", text)
        for i, token in enumerate(tokens):
            if len(token) < 4 or token in self.specialty_keys or lemma(token) in self.service_lemmas:
                continue
            if i in mine or name_kind(token) in ("patronymic", "name"):
                continue  # the patient's own name, or "Петровна", is no typo of a doctor's surname
            after_marker = i > 0 and tokens[i - 1] in _BEFORE_DOCTOR
            capitalised = i < len(original) and original[i][:1].isupper() and i > 0
            if not (after_marker or capitalised):
                continue
            best = process.extractOne(token, list(self.by_form), scorer=fuzz.ratio, score_cutoff=84)
            if best and name_kind(token) == "surname" and _known_word(token):
                best = None  # "к Кузнецовой" is another surname (a woman's), not a typo of Кузнецов
            if best:
                typo = tuple(d.full_name for d in self.by_form[best[0]])
                return DoctorMatch(doctors=typo, asked=after_marker)
            if after_marker and self._looks_like_surname(token):
                return DoctorMatch(unknown=self._nominative(token), suggestions=self._closest(token))
        return DoctorMatch()

    def _first_name_forms(self, doctor: Doctor) -> frozenset[str]:
        return _first_name_forms(doctor.full_name, doctor_gender(doctor))

    @staticmethod
    def _nominative(token: str) -> str:
        """The surname in the nominative of the gender written: "к Кузнецовой" -> "Кузнецова", not "Кузнецов"."""
        for parse in morph().parse(token):
            if "Surn" in parse.tag:
                same_gender = parse.inflect({"nomn"})
                return (same_gender.word if same_gender else parse.normal_form).capitalize()
        return token.capitalize()

    @staticmethod
    def _looks_like_surname(token: str) -> bool:
        parses = morph().parse(token)
        if any("Surn" in p.tag for p in parses[:4]):
            return True
        return not morph().word_is_known(token) and bool(
            re.search(r"(ов|ев|ин|ой|ую|ому|ому|ого|ко|ук|юк|ян)[аоуые]?$", token)
        )

    def _closest(self, token: str) -> tuple[str, ...]:
        results = process.extract(token, list(self.by_form), scorer=fuzz.ratio, limit=6, score_cutoff=60)
        names: dict[str, None] = {}
        for form, _score, _ in results:
            for doctor in self.by_form[form]:
                names.setdefault(doctor.full_name, None)
        return tuple(list(names)[:3])

    def _specialty(self, tokens: list[str], lemmas_: list[str], low: str) -> str | None:
        for phrase, specialty in self.specialty_phrases:
            if phrase in low:
                return specialty
        for token, lem in zip(tokens, lemmas_, strict=True):
            found = self.specialty_keys.get(token) or self.specialty_keys.get(lem)
            if found:
                return found
        for token in tokens:
            if len(token) >= 6:
                best = process.extractOne(token, self.specialty_choices, scorer=fuzz.ratio, score_cutoff=85)
                if best:
                    return self.specialty_keys[best[0]]
        return None

    def _service(self, lemmas_: set[str]) -> tuple[_Service | None, tuple[str, ...]]:
        known = self._service_lemmas_in(lemmas_)
        if not known:
            return None, ()
        best: list[_Service] = []
        best_score = 0.0
        pain = bool(_PAIN & lemmas_)
        candidates = sorted({i for lem in known for i in self.services_by_lemma.get(lem, ())})
        for position in candidates:  # in list order, so ties keep the first service listed
            service = self.services[position]
            if not service.required <= known:
                continue
            # A service that also names the pain ("болит ухо") fits "ухо болит" better than a bare "ухо".
            required = len(service.required)
            score = float(required) + (0.5 if pain and required < len(service.lemmas) else 0.0)
            if score > best_score:
                best, best_score = [service], score
            elif score == best_score:
                best.append(service)
        if not best:
            return None, ()
        specialties = tuple(dict.fromkeys(s.specialty for s in best))
        if len(specialties) == 1:
            return best[0], ()
        return best[0], specialties

    def _service_lemmas_in(self, lemmas_: set[str]) -> set[str]:
        """Service lemmas the message has, exactly or with a typo (5+ letters, same first letter)."""
        known = lemmas_ & self.service_lemmas
        for lem in lemmas_:
            if len(lem) >= 5:
                known.update(
                    other
                    for other in self.long_lemmas.get(lem[0], ())
                    if other not in known and fuzz.ratio(lem, other) >= 85
                )
        return known
