"""Signs of an emergency in a patient's words, after the public triage lists of when to call an ambulance.

Pure and deterministic. The text is folded (case, ё), split into words, unknown words are corrected into the
signs' vocabulary (typos: «задыхаеться», «судароги»), negated symptoms are dropped («нет температуры», «не
тошнит»), and then each category's signs are looked for anywhere in the message, alone or in combination
(abdominal pain alone is not an emergency; with fever or vomiting, or in a child, it is). Events told as
history («был обморок год назад») are `soft`: a word of advice, not a stop to the booking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from bot.dialogue.language import fold, morph

__all__ = ["Finding", "asks_if_safe", "detect", "mentions_symptoms"]


@dataclass(frozen=True, slots=True)
class Finding:
    category: str  # a key of the knowledge's safety advice: "chest", "stroke", "suicide"...
    soft: bool = False  # told as past or recurring: advise, do not block the booking
    # A booking asked for a complaint that is an emergency only when it is happening now and strong
    # («боли в сердце, хочу к кардиологу»): the numbers are given, and the booking goes on.
    caution: bool = False


_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[а-яa-z]+")
# Words the signs are made of: an unknown word close to one of them is read as it.
_VOCABULARY_TEXT = (
    "судороги судорога задыхается задыхаюсь задыхаемся задохнулся кровотечение кровотечения останавливается "
    "прекращается температура температуры температурой сознание сознания обморок обмороке рвота рвоты рвет "
    "тошнит перекосило перекошено онемела онемело немеет отнялась заплетается неразборчиво невнятно "
    "таблеток таблетки наглотался наглоталась передозировка отравление отравился отравилась снотворного "
    "беременность беременна беременности кровянистые самоубийство самоубийства суицид покончить "
    "анафилактический квинке опухло отекает распухло подавился подавилась поперхнулся поперхнулась "
    "задыхаться дышать вдохнуть живот животе болит боль грудью груди грудине сердце припадок "
    "эпилептический ребенок ребенку ребенка малыш малышу новорожденный грудничок хлещет"
)
_VOCABULARY = tuple(_VOCABULARY_TEXT.split())
_FUNCTION = re.compile(r"^(не|нет|без|и|а|но|в|на|с|у|за|по|от|до|из|что|как|уже|еще|очень)$")


@lru_cache(maxsize=20_000)
def _correct(word: str) -> str:
    if len(word) < 5 or word.isdigit() or morph().word_is_known(word):
        return word
    best = process.extractOne(word, _VOCABULARY, scorer=fuzz.ratio, score_cutoff=82)
    return str(best[0]) if best else word


def normalise(text: str) -> str:
    """Folded words with typos corrected, one space apart (punctuation and line breaks gone)."""
    tokens = _TOKEN.findall(fold(text))
    return " " + " ".join(_correct(t) if not _FUNCTION.match(t) else t for t in tokens) + " "


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _near(a: str, b: str, gap: int = 3) -> str:
    """`a` and `b` (either order) with at most `gap` words between them."""
    between = rf"(?:\s+\S+){{0,{gap}}}\s+"
    return rf"(?:\b(?:{a}){between}(?:{b})|\b(?:{b}){between}(?:{a}))"


# --- building blocks (word stems; the text is lowercase, ё folded to е)
PAIN = r"бол\w*|давит|давят|давило|сдавл\w*|сжима\w*|сжат\w*|жж\w*|жгуч\w*|печет|колет|ноет|режет|рези"
CHEST = r"груд(?!нич|н\w+\s+(?:реб|малыш|вскарм|молок))\w*|сердц\w*|сердечн\w*"
BELLY = r"живот\w*|пуз\w*|желуд\w*|брюшн\w*|подвздош\w*"
VOMIT = r"рвот\w*|рвет|рвал\w*|вырвал\w*|рвота|блю\w*|стошнил\w*"
FEVER_WORD = r"жар|знобит|озноб\w*|лихорад\w*"
CHILD = r"реб\w*|дет\w*|сын\w*|доч\w*|малыш\w*|младен\w*|грудничк\w*|новорожд\w*|мальчик\w*|девочк\w*"
ACUTE = r"резк\w*|сильн\w*|невыносим\w*|остр\w*|ужасн\w*|адск\w*|нестерпим\w*"
PAST = (
    r"\b(был|была|было|были|бывает|бывают|бывал\w*|случал\w*|иногда|раньше|когда-то|прошл\w*|назад|"
    r"давно|в детстве|после инсульта|после инфаркта|перенес\w*|в прошлом)\b"
)
HISTORY = re.compile(PAST)

_STRIP = [  # the phrases that merely look like signs: lab tests, negated symptoms
    _rx(r"\b(анализ\w*|сдат\w*|сдач\w*|сдаю|сдам|забор\w*|взят\w*|результат\w*|свертыва\w*|биохими\w*)"
        r"(?:\s+\S+){0,3}\s+кров\w*"),
    _rx(r"\bкров\w*\s+(на|из вены|из пальца|сдать|сдавать)\b(?:\s+\S+){0,2}"),
    _rx(r"\b(?:не|нет|без)\s+(?:никакой\s+|высокой\s+|особо\s+|был\w*\s+)?(?:температур\w*|рвот\w*|рвет|тошн\w*|тошнот\w*|жар\w*|кров\w*)"),
    _rx(r"\b(?:температур\w*|рвот\w*|тошнот\w*|крови)\s+(?:\S+\s+)?нет\b"),
    _rx(r"\bтемператур\w*\s+(?:в\s+)?норм\w*"),
]  # fmt: skip

_SIGNS: list[tuple[str, re.Pattern[str]]] = [
    ("suicide", _rx(
        r"\b(не\s+(хочу|хочется|хочет)\s+(\S+\s+){0,2}жить(?!\s+(в|на|с|у|рядом|здесь|там|одн\w*|вместе)\b)|жить\s+(больше\s+)?не\s+(хочу|хочется|хочет)|"
        r"смысл\w*\s+(в\s+)?жи\w+|поконч\w*\s+с\s+(собой|жизнью)|уйти\s+из\s+жизни|"
        r"свести\s+сч\w+\s+с\s+жизнью|наложить\s+на\s+себя\s+руки|наложу\s+на\s+себя|самоубий\w*|суицид\w*|"
        r"(хочу|хочется|хочет|хотел\w*)\s+умереть|лучше\s+бы\s+(я\s+)?(умер\w*|не\s+жил\w*)|убить\s+себя|"
        r"убью\s+себя|повешусь|повеситься|вскрыть\s+вены|вскрою\s+вены|порезать\s+вены|режу\s+себя|"
        r"незачем\s+жить|жить\s+незачем|нет\s+сил\s+жить|устал\w*\s+жить|(выпрыгну|спрыгну)\s+(из|с)\b|"
        r"(хочу|хочется)\s+(спрыгнуть|выпрыгнуть|прыгнуть)\s+(с|из|под)|"
        # Said without the word «жить»: wishing not to exist, to fall asleep for good, to be gone.
        r"лучше\s+бы\s+(меня|нас)\s+(\S+\s+)?не\s+было|(меня|без\s+меня)\s+(\S+\s+){0,2}(не\s+было|не\s+станет)\s+(бы\s+)?лучше|"
        r"всем\s+(\S+\s+)?(будет|станет|было\s+бы)\s+лучше\s+без\s+меня|без\s+меня\s+(всем\s+)?(будет|станет|было\s+бы)\s+(всем\s+)?лучше|"
        r"(уснуть|заснуть|усну|засну|спать)\s+и\s+(больше\s+)?не\s+прос(н|ып)\w*|не\s+(хочу|хочется)\s+(больше\s+)?просыпаться|"
        r"(хочу|хочется)\s+(исчезнуть|перестать\s+существовать|не\s+существовать)|"
        r"не\s+вижу\s+(смысла\s+(в\s+жизни|жить)|выхода\s*($|[.!,?]))|нет\s+(смысла|сил)\s+(так\s+)?(дальше|больше)\s+(жить|так\s+жить))")),
    ("overdose", _rx(
        r"\b(наглотал\w*|передоз\w*|наел\w*\s+(таблет\w*|лекарств\w*)|"
        + _near(r"выпил\w*|принял\w*|съел\w*|проглотил\w*|напил\w*|нажрал\w*",
                r"уксус\w*|средств\w*|хими\w*|отбелив\w*|белизн\w*|щелоч\w*|кислот\w*|бензин\w*|растворит\w*|"
                r"батарейк\w*|магнит\w*|ртут\w*|антифриз\w*|моющ\w*|стирк\w*|яд\w*|отрав\w*|крот\w*|"
                r"жидкост\w*|розжиг\w*|спирт\w*|метанол\w*|гриб\w*", 4)
        + r"|угар\w*)")),
    ("abdomen", _rx(_near(ACUTE, r"\bбол\w*\s+(в|внизу|низу)\s+живот\w*|живот\w*\s+бол\w*|бол\w*\s+живот\w*", 1)
                    + r"|не\s+могу\s+разогнуться|скрючил\w*|корчит\w*")),
    ("chest", _rx(_near(PAIN, CHEST, 3) + r"|\bинфаркт\w*|сердечн\w*\s+приступ\w*|плохо\s+с\s+сердц\w*|сердце\s+(прихватил\w*|схватил\w*)")),
    ("breathing", _rx(
        r"\b(не\s+(могу|может|можем)\s+(вдохнуть|выдохнуть|дышать|отдышаться|откашляться)|нечем\s+дышать|"
        r"задыха\w*|задохн\w*|(трудно|тяжело|тяжко|больно|плохо)\s+дыш\w*|не\s+дышит|удушь\w*|"
        r"посинел\w*|син\w+\s+губ\w*|губ\w*\s+син\w*|приступ\w*\s+астм\w*|астм\w*\s+приступ\w*|"
        r"подавил(ся|ась|ись|сь)|поперхнул\w*|застрял\w*\s+в\s+горле|хрипит\s+и|"
        r"(засунул\w*|проглотил\w*|вдохнул\w*)(\s+\S+){0,3}\s+(монет\w*|игрушк\w*|детал\w*|шарик\w*|пуговиц\w*|"
        r"бусин\w*|кост\w*))")),
    ("stroke", _rx(
        r"\b(перекоси\w*|перекошен\w*|уголок\s+рта|угол\s+рта|заплета\w*|инсульт\w*|"
        + _near(r"онемел\w*|немеет|немеют|отнял\w*|отказал\w*|не\s+двига\w*|не\s+шевел\w*|не\s+чувству\w*|"
                r"не\s+(может|могу)\s+поднять|ослабел\w*|обвисл\w*|опустил\w*",
                r"половин\w*|сторон\w*|лиц(?:о|а|е|у|ом)?\b|тел(?:о|а|е|ом)\b", 3)
        + r")")),
    ("unconscious", _rx(
        r"\b(сознани\w*|обморок\w*|обморочн\w*|не\s+приходит\s+в\s+себя|не\s+(могу|можем)\s+привести|"
        r"отключил(ся|ась)|вырубил(ся|ась)|упал\w*\s+и\s+не\s+(отвечает|реагирует|встает|двигается)|"
        r"не\s+просыпается)")),
    ("seizure", _rx(
        r"\b(судорог\w*|судорож\w*|конвульс\w*|припад\w*|пена\s+изо\s+рта|пена\s+у\s+рта|"
        r"приступ\w*\s+эпилеп\w*|эпилептическ\w*\s+приступ\w*|"
        r"глаза\s+закатил\w*|закатил\w*\s+глаза)")),
    ("pregnancy", _rx(_near(r"беремен\w*|недел\w*\s+беремен\w*",
                            r"кров\w*|мажет|схватк\w*|воды|отошл\w*|подтека\w*", 8))),
    ("bleeding", _rx(
        r"\b(кровотечени\w*|истека\w*\s+кровью|"
        + _near(r"кров\w*",
                r"хлещ\w*|хлыщ\w*|не\s+останавлива\w*|не\s+прекраща\w*|не\s+сворачива\w*|не\s+переста\w*|"
                r"льет\w*|ручь\w*|фонтан\w*|сильн\w*|много|рекой", 6)
        + r"|(" + VOMIT + r"|кашл\w*|стул\w*|кал|калом)\s+(с\s+)?(кров\w*|сгуст\w*)"
        + r"|кровав\w*\s+(рвот\w*|стул\w*|понос\w*)|(стул|кал)\s+черн\w*|черн\w*\s+(стул|кал))")),
    ("anaphylaxis", _rx(
        r"\b(анафилак\w*|квинке|"
        + _near(r"отек\w*|отекл\w*|отека\w*|опух\w*|распух\w*|раздул\w*|отекш\w*", r"горл\w*|гортан\w*|язык\w*", 3)
        + r")")),
    ("injury", _rx(
        r"\b(упал\w*\s+с\s+(высот\w*|крыш\w*|балкон\w*|окн\w*|этаж\w*|лестниц\w*|дерев\w*|лошад\w*)|"
        r"выпал\w*\s+(из|с)\s+окн\w*|авари[яиюей]\w*|дтп|сбил\w*\s+(машин\w*|автомобил\w*)|машин\w*\s+сбил\w*|открыт\w*\s+перелом\w*|"
        r"кость\s+торчит|видна\s+кость|удар\w*\s+ток\w*|током\s+удари\w*|электротравм\w*|ножев\w*|"
        r"огнестрел\w*|пробил\w*\s+голов\w*|глубок\w*\s+(ран\w*|порез\w*)|"
        + _near(r"ожог\w*|обжег\w*|обжёг\w*|обварил\w*|ошпарил\w*",
                r"кипят\w*|кислот\w*|щелоч\w*|химич\w*|больш\w*|сильн\w*|пузыр\w*|волдыр\w*|лиц\w*|глаз\w*|"
                + CHILD + r"|площад\w*|огн\w*|пожар\w*|масл\w*", 5)
        + r")")),
]  # fmt: skip

_FACE_SWELLING = _rx(
    _near(
        r"отек\w*|отекл\w*|отека\w*|опух\w*|распух\w*|раздул\w*",
        r"лиц(?:о|а|е|у|ом)?\b|губ\w*|век(?:и|о)?\b",
        3,
    )
)
_ALLERGY_TRIGGER = _rx(
    r"\b(аллерг\w*|укус\w*|ужал\w*|оса|осы|пчел\w*|после\s+(таблет\w*|укол\w*|еды|лекарств\w*|креветок|орех\w*)|"
    r"трудно\s+глотать|тяжело\s+глотать|не\s+может\s+глотать)"
)
_RASH = _rx(r"\b(сып\w*|крапивниц\w*|волдыр\w*|пятн\w*|покраснел\w*)")
_BREATH = _rx(r"\b(дыш\w*|задыха\w*|одышк\w*|хрип\w*|вдохнуть)")
_SPEECH = _rx(
    r"\b(речь|говорит\w*|говорить|сказать|слова)\s+(\S+\s+)?(путает\w*|наруш\w*|невнятн\w*|неразборчив\w*|"
    r"спутан\w*|не\s+может)|невнятн\w*|неразборчив\w*|не\s+может\s+(говорить|сказать)"
)
_LIMB_WEAK = _rx(
    r"\b(онемел\w*|немеет|немеют|отнял\w*|отказал\w*|не\s+двига\w*|не\s+шевел\w*|не\s+чувству\w*|"
    r"не\s+(может|могу)\s+поднять|ослабел\w*|слабост\w*)(?:\s+\S+){0,3}?\s+(рук\w*|ног\w*)"
    r"|\b(рук\w*|ног\w*)\s+(\S+\s+)?(онемел\w*|немеет|немеют|отнял\w*|отказал\w*|не\s+двига\w*|не\s+слуша\w*|"
    r"висит|повисл\w*|не\s+поднима\w*)"
)
_SUDDEN = _rx(r"\b(вдруг|внезапно|резко|неожиданно|сейчас|только\s+что)\b")
_BELLY_PAIN = _rx(_near(PAIN + r"|болезнен\w*", BELLY, 3))
_VOMIT = _rx(r"\b(" + VOMIT + r")")
_CHOKE_PAST = _rx(r"\b(вчера|позавчера|до\s+сих\s+пор|неделю|месяц)\b")
_HEAD = _rx(
    r"\b(удари\w*|удар|стукну\w*|травм\w*|сотряс\w*|упал\w*)(?:\s+\S+){0,3}\s+(голов\w*|затыл\w*|лб\w*)"
)
_HEAD_BAD = _rx(r"\b(" + VOMIT + r"|тошн\w*|сонлив\w*|сознани\w*|кров\w*|не\s+встает)")
_FALL_DOWN = _rx(r"\bупал\w*(?:\s+\S+){0,4}\s+не\s+(может|могу)\s+встать")
_PILLS = _rx(
    r"\b(таблет\w*|лекарств\w*|снотворн\w*|препарат\w*|капсул\w*|пачк\w*|упаковк\w*|пузыр\w*|доз\w*|инсулин\w*)"
)
_TOOK = _rx(r"\b(выпил\w*|принял\w*|съел\w*|проглотил\w*|напил\w*|нажрал\w*|наел\w*|вколол\w*)")
_MANY = _rx(r"\b(много|пачк\w*|упаковк\w*|горст\w*|все\s+таблет\w*|всю\s+пачк\w*|целую|нескольк\w*|лишн\w*|"
            r"\d+\s+(штук\w*|таблет\w*)|штук\w*\s+\d+|двойн\w*|тройн\w*|бабушкин\w*|мамин\w*|папин\w*|чуж\w*|кучу)\b")  # fmt: skip
_POISONING = _rx(r"\b(отрав\w*)")
_CHILD = _rx(r"\b(" + CHILD + r")")
# A pain that has lasted or keeps coming back is for a doctor's visit, not an ambulance, unless other signs join.
_AGE = re.compile(r"\b\d+\s*(лет|год\w*|мес\w*)\b|\b(ему|ей|сыну|дочери|дочке|ребенку)\s+\S+\s+(лет|год\w*)")
_LASTING = _rx(
    r"\b(уже\s+)?(\S+\s+)?(недел\w*|месяц\w*|год\w*|лет)\b|\bдавно\b|\bпериодическ\w*|\bиногда\b|"
    r"\bчасто\b|\bпостоянно\b|\bвремя\s+от\s+времени|\bкаждый\s+(день|раз)|\bпо\s+утрам\b"
)
_BOOKS = _rx(
    r"\b((хочу|хотел\w*|можно|нужно|нужен|нужна|надо)\s+(\S+\s+)?(к|на)\s+\w+|запис\w*|при[её]м\w*|"
    r"обследова\w*|консультац\w*|провери\w*)"
)
_NOW = _rx(
    r"\b(сильн\w*|резк\w*|не\s+проход\w*|не\s+останавлива\w*|не\s+прекраща\w*|хлещ\w*|сейчас|только\s+что|"
    r"пот|отда\w*|задыха\w*|минут\w*|час\w*|полчаса|давит|жжет|сжима\w*|немеет|онемел\w*|холодн\w*)\b"
)
_CRAMP = _rx(r"\b(икр\w*|мышц\w*|ног\w*|ступн\w*|пальц\w*|стоп[аыуе]\b|свод\w*)")
_FIT = _rx(r"\b(пена|сознани\w*|закатил\w*|температур\w*|трясет|" + CHILD + r")")
_CHILD_TOOK = _rx(r"\b(съел\w*|проглотил\w*|сгрыз\w*|нашел|нашла|достал\w*|случайно|наглотал\w*)")


def _temperature(norm: str) -> float | None:
    """The highest temperature named (35-43 °C), or None."""
    best: float | None = None
    for match in re.finditer(r"(?<![\d.,])(\d{2}(?:[.,]\d)?)(?![\d.,])", norm):
        value = float(match.group(1).replace(",", "."))
        if not 35 <= value < 43:
            continue
        around = norm[max(0, match.start() - 40) : match.end() + 30]
        if (
            "," in match.group(1)
            or "." in match.group(1)
            or re.search(r"температур|темп\b|градус|\bt\b", around)
        ):
            best = value if best is None else max(best, value)
    return best


def _has_fever(norm: str, temp: float | None) -> bool:
    if temp is not None:
        return temp >= 38
    return bool(re.search(r"\b(температур\w*|" + FEVER_WORD + r")\b", norm))


_NUMBERS = {"один": 1, "одна": 1, "одну": 1, "два": 2, "две": 2, "три": 3, "четыре": 4, "пять": 5,
            "шесть": 6, "семь": 7, "восемь": 8, "девять": 9, "десять": 10, "одиннадцать": 11}  # fmt: skip


def _infant_months(norm: str) -> float | None:
    """The age of a baby the message speaks of, in months, when it is under a year; else None."""
    if re.search(r"\b(новорожд\w*|младен\w*)", norm):
        return 0.5
    if re.search(r"\b(полгода|пол\s+года|полугод\w*)", norm):
        return 6
    for match in re.finditer(r"\b(\d+(?:[.,]5)?|[а-я]+)\s+(мес\w*|нед\w*|дн\w*|день)", norm):
        raw = match.group(1)
        number = _NUMBERS.get(raw) if not raw[0].isdigit() else float(raw.replace(",", "."))
        if number is None:
            continue
        unit = match.group(2)
        months = number if unit.startswith("мес") else number / 4.3 if unit.startswith("нед") else number / 30
        if months < 12:
            return months
    if re.search(r"\b(грудничк\w*|грудн\w+\s+(реб\w*|малыш\w*))", norm):
        return 6
    return None


def _combined(norm: str) -> str | None:
    """The categories that need two signs together."""
    temp = _temperature(norm)
    fever = _has_fever(norm, temp)
    months = _infant_months(norm)
    if months is not None and ((months < 3 and (fever or (temp or 0) >= 37.5)) or (temp or 0) >= 39):
        return "infant_fever"
    if months is not None and months < 3 and re.search(r"\bгоряч\w*", norm):
        return "infant_fever"
    child_now = _CHILD.search(norm) and not _LASTING.search(_AGE.sub(" ", norm))
    if _BELLY_PAIN.search(norm) and (fever or _VOMIT.search(norm) or child_now):
        return "abdomen"
    if _SPEECH.search(norm) and (_LIMB_WEAK.search(norm) or _SUDDEN.search(norm)):
        return "stroke"
    if _LIMB_WEAK.search(norm) and _SUDDEN.search(norm) and re.search(r"\b(лев\w*|прав\w*|одн\w*)\b", norm):
        return "stroke"
    if _FACE_SWELLING.search(norm) and _ALLERGY_TRIGGER.search(norm):
        return "anaphylaxis"
    if _RASH.search(norm) and _BREATH.search(norm) and not re.search(r"\bодышк\w*\s+при\b", norm):
        return "anaphylaxis"
    if _HEAD.search(norm) and _HEAD_BAD.search(norm):
        return "injury"
    if _FALL_DOWN.search(norm):
        return "injury"
    if (
        _TOOK.search(norm)
        and _PILLS.search(norm)
        and (_MANY.search(norm) or (_CHILD.search(norm) and _CHILD_TOOK.search(norm)))
    ):
        return "overdose"
    if temp is not None and temp >= 40:
        return "high_fever"
    return None


# Categories where an event that has passed («был обморок год назад») is a reason to book, not to call 103.
_RESOLVABLE = {"unconscious", "seizure", "poisoning", "breathing", "injury", "bleeding", "chest", "stroke"}


@lru_cache(maxsize=4096)  # the engine and the core both ask about the same message
def detect(text: str) -> Finding | None:
    """The first emergency sign in `text`, or None."""
    norm = normalise(text)
    for pattern in _STRIP:
        norm = pattern.sub(" ", norm)
    found = next((name for name, pattern in _SIGNS if pattern.search(norm)), None)
    if found == "seizure" and _CRAMP.search(norm) and not _FIT.search(norm):
        found = None  # «судороги в икрах по ночам»: cramps, a reason to book
    if found == "breathing" and (_RASH.search(norm) or _FACE_SWELLING.search(norm)):
        found = "anaphylaxis"
    if found is None:
        found = _combined(norm)
    if found is None and _POISONING.search(norm):
        found = "poisoning"
    if found is None and _CHILD.search(norm) and (_temperature(norm) or 0) >= 39:
        return Finding("high_fever", soft=True, caution=True)  # a child at 39+: book, but say when to call
    if found is None:
        return None
    if found == "breathing" and re.search(r"\b(подавил|поперхнул)", norm) and _CHOKE_PAST.search(norm):
        return Finding(found, soft=True)
    if found == "bleeding" and re.search(r"\b(иногда|бывают|бывает|часто)\b", norm):
        return Finding(found, soft=True)
    if found in _RESOLVABLE and HISTORY.search(norm) and not _SUDDEN.search(norm):
        return Finding(found, soft=True)
    if found in {"chest", "bleeding"} and _BOOKS.search(norm) and not _NOW.search(norm):
        return Finding(found, soft=True, caution=True)
    return Finding(found)


_SAFETY_QUESTION = re.compile(
    r"\b(опасно|опасен|опасна|опасное|опасность|серьезно|страшно|"
    r"(можно|могу|можем|стоит|нужно|надо)\s+(ли\s+)?(\S+\s+)?(подождать|потерпеть|дождаться|отложить|дотерпеть)|"
    r"подожд\w*\s+до|дотерп\w*|до\s+(завтра|утра|понедельника)|само\s+пройдет|пройдет\s+само|"
    r"(вызывать|звонить|ехать)\s+(ли\s+)?(в\s+)?(скорую|103|112|больниц\w*)|скорую\s+(вызывать|звать)|"
    r"(что|как)\s+(мне\s+)?(делать|быть)|чем\s+помочь)"
)
_SYMPTOMS = re.compile(
    r"\b(бол\w*|температур\w*|жар|рвот\w*|рвет|тошн\w*|кров\w*|сып\w*|отек\w*|опух\w*|кашл\w*|голов\w*\s+кружит\w*|"
    r"давлен\w*|слабост\w*|упал\w*|ударил\w*|знобит|понос\w*|живот\w*)"
)


def asks_if_safe(text: str) -> bool:
    """«Это опасно?», «может подождать до завтра?», «что делать?»."""
    return bool(_SAFETY_QUESTION.search(normalise(text)))


def mentions_symptoms(text: str) -> bool:
    return bool(_SYMPTOMS.search(normalise(text)))
