"""FAQ retrieval: lemmatised, synonym-aware weighted matching over the `## ` questions and their answers."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

from bot.dialogue.language import content_lemmas
from bot.knowledge.models import FaqEntry

# Words that say nothing about which question is asked.
_STOP = {
    "быть",
    "есть",
    "можно",
    "ли",
    "у",
    "вы",
    "ваш",
    "мы",
    "я",
    "мой",
    "клиника",
    "клиник",
    "мочь",
    "хотеть",
    "подсказать",
    "пожалуйста",
    "здравствуйте",
    "добрый",
    "день",
    "скажите",
    "сказать",
    "подскажите",
    "нужно",
    "надо",
    "нужный",
    "это",
    "такой",
    "вопрос",
    "интересовать",
    "знать",
    "хотеться",
    "ещё",
    "еще",
    "очень",
    "просто",
    "тоже",
    "также",
    "а",
    "и",
    "сколько",
    "скольки",
    "где",
    "когда",
    "принимать",
    "делать",
    "получить",
    "вообще",
    "там",
    "тут",
    "здесь",
    "какой",
    "как",
    "который",
    "что",
    "весь",
    "свой",
    "привет",
    "вечер",
    "утро",
    "здравствовать",
    "подождать",
    "смочь",
    "если",
    "сегодня",
    "завтра",
}
# Different words for the same thing, mapped to one concept term.
_CONCEPTS: dict[str, tuple[str, ...]] = {
    "#парковка": (
        "парковка",
        "припарковаться",
        "парковаться",
        "припарковать",
        "машина",
        "автомобиль",
        "авто",
        "стоянка",
        "парковочный",
        "парковать",
    ),
    "#цена": (
        "цена",
        "стоимость",
        "стоить",
        "прайс",
        "расценка",
        "тариф",
        "дорого",
        "платный",
        "рубль",
        "обойтись",
        "почём",
        "почем",
        "прейскурант",
    ),
    "#адрес": ("адрес", "находиться", "располагаться", "расположить", "местоположение", "найти"),
    "#доехать": (
        "добраться",
        "доехать",
        "дойти",
        "проехать",
        "транспорт",
        "автобус",
        "метро",
        "маршрут",
        "остановка",
        "трамвай",
        "дорога",
        "ехать",
        "попасть",
    ),
    "#часы": (
        "час",
        "часы",
        "работать",
        "работа",
        "открыто",
        "закрыто",
        "график",
        "режим",
        "открыть",
        "открытый",
        "выходной",
        "суббота",
        "воскресенье",
        "будни",
        "время",
        "закрываться",
        "открываться",
        "закрытый",
        "выходные",
        "суббота",
        "воскресение",
    ),
    "#документ": ("документ", "паспорт", "снилс", "взять", "брать", "собой", "с собой"),
    "#ребенок": (
        "ребёнок",
        "ребенок",
        "дети",
        "детский",
        "сын",
        "дочь",
        "малыш",
        "дочка",
        "сынок",
        "подросток",
    ),
    "#надом": ("дом", "выезд", "вызвать", "вызов", "приехать", "выезжать", "выездной"),
    "#оплата": (
        "оплатить",
        "оплата",
        "платить",
        "заплатить",
        "карта",
        "наличные",
        "наличный",
        "сбп",
        "qr",
        "безналичный",
        "рассрочка",
    ),
    "#вычет": ("вычет", "налоговый", "ндфл", "налог"),
    "#скидка": ("скидка", "акция", "пенсионер", "льгота", "дешевле"),
    "#анализ": ("анализ", "кровь", "сдать", "сдавать", "сдача", "лаборатория"),
    "#живот": ("живот", "брюшной", "брюшная", "полость"),
    "#подготовка": (
        "подготовиться",
        "подготовка",
        "натощак",
        "голодный",
        "готовиться",
        "есть",
        "кушать",
        "завтракать",
        "голодать",
        "нельзя",
        "перед",
    ),
    "#данные": (
        "данные",
        "персональный",
        "конфиденциальность",
        "приватность",
        "152-фз",
        "храниться",
        "хранить",
    ),
    "#удалить": ("удалить", "отозвать", "стереть", "удаление"),
    "#справка": ("справка", "больничный", "лист"),
    "#отмена": ("отменить", "перенести", "отмена", "перенос", "отказаться", "передумать"),
    "#праздник": (
        "праздник",
        "праздничный",
        "новогодний",
        "каникулы",
        "январь",
        "майский",
        "рождество",
        "рождественский",
    ),
    "#страховка": ("дмс", "омс", "страховка", "страховой", "полис", "страхование"),
    "#телефон": ("телефон", "позвонить", "номер", "звонить", "дозвониться"),
    "#результат": ("результат", "готовый", "готов", "получить", "забрать"),
    "#беззаписи": ("запись", "очередь", "живой"),
    "#заранее": ("заранее", "опоздать", "раньше"),
    # both "без записи" and "за сколько приходить" say it: the other words of the question decide
    "#прийти": ("прийти", "приходить", "подойти", "подходить"),
    "#экг": ("экг", "кардиограмма", "электрокардиограмма", "холтер"),
    "#узи": ("узи", "ультразвук"),
}
_CONCEPT_OF = {word: concept for concept, members in _CONCEPTS.items() for word in members}
QUESTION_WEIGHT = 1.0
ANSWER_WEIGHT = 0.3
TOPIC_WEIGHT = 0.8  # a word of the topic heading: below the question's own words, so they break ties
STEM = 5


# Phrases whose words alone say nothing ("до скольки" is about the hours).
_PHRASES = (
    (re.compile(r"\b(до|со|с|во)\s+скольки\b|\bво\s+сколько\s+(вы\s+)?(открыва|закрыва|работа)"), "#часы"),
)


def _terms(text: str) -> list[str]:
    terms: list[str] = [concept for pattern, concept in _PHRASES if pattern.search(text.casefold())]
    for lem in content_lemmas(text):
        if lem in _STOP or len(lem) < 2:
            continue
        concept = _CONCEPT_OF.get(lem)
        if concept:  # one term for the whole family of words, so synonyms count alike
            terms.append(concept)
            continue
        terms.append(lem)
        if len(lem) >= STEM + 1 and not lem.isdigit():
            terms.append("~" + lem[:STEM])
    return terms


@dataclass(frozen=True, slots=True)
class ScoredEntry:
    entry: FaqEntry
    score: float


@dataclass
class FaqIndex:
    entries: tuple[FaqEntry, ...]
    postings: dict[str, dict[int, float]] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    question_mass: list[float] = field(default_factory=list)  # idf sum of each entry's question terms

    @classmethod
    def build(cls, entries: tuple[FaqEntry, ...]) -> FaqIndex:
        index = cls(entries)
        postings: defaultdict[str, dict[int, float]] = defaultdict(dict)
        for i, entry in enumerate(entries):
            for term in _terms(entry.answer[:600]):
                postings[term][i] = max(postings[term].get(i, 0.0), ANSWER_WEIGHT)
            for term in _terms(entry.topic):  # "Приём и запись": shared by the topic's questions
                postings[term][i] = max(postings[term].get(i, 0.0), TOPIC_WEIGHT)
            for term in _terms(entry.question):
                postings[term][i] = QUESTION_WEIGHT
        n = max(len(entries), 1)
        index.postings = dict(postings)
        index.idf = {t: math.log(1 + n / len(p)) for t, p in postings.items()}
        index.question_mass = [
            sum(index.idf[t] for t in set(_terms(e.question) + _terms(e.topic))) or 1.0 for e in entries
        ]
        return index

    @staticmethod
    def says_something(text: str) -> bool:
        """The text has a word a question could be about ("можно вопрос?" has none)."""
        return bool(_terms(text))

    def search(self, text: str, limit: int = 3) -> list[ScoredEntry]:
        terms = list(dict.fromkeys(_terms(text)))
        if not terms or not self.entries:
            return []
        default_idf = math.log(1 + len(self.entries))
        total = 0.0
        scores: defaultdict[int, float] = defaultdict(float)
        question_hits: defaultdict[int, float] = defaultdict(float)
        for term in terms:
            weight = 0.5 if term.startswith("~") else 1.0
            idf = self.idf.get(term, default_idf) * weight
            if term.startswith("~") and term not in self.idf:
                continue  # an unknown stem adds nothing and costs nothing
            total += idf
            for i, w in self.postings.get(term, {}).items():
                scores[i] += idf * w
                if w == QUESTION_WEIGHT:
                    question_hits[i] += self.idf[term]
        if total <= 0:
            return []
        # How much of the query is explained, tempered by how much of the entry's question was asked about.
        final = {
            i: (s / total) * (0.7 + 0.3 * min(1.0, question_hits[i] / self.question_mass[i]))
            for i, s in scores.items()
        }
        ranked = sorted(final.items(), key=lambda kv: kv[1], reverse=True)[:limit]
        return [ScoredEntry(self.entries[i], round(s, 3)) for i, s in ranked]
