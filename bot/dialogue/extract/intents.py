"""What the patient wants to do with this message: confirm, refuse, restart, call a person, an emergency..."""

from __future__ import annotations

import re

from bot.dialogue.language import fold, morph
from bot.dialogue.safety.detect import detect as detect_emergency

LATER = "later"  # "я подумаю", "напишу позже": the patient puts the booking off
HELP = "help"  # "/help", "что вы умеете?"
RESCHEDULE = "reschedule"  # "перенести запись", "отменить приём": an appointment already made
CALLBACK = "callback"  # "а когда перезвоните?": when the administrator calls back
ENOUGH = "enough"  # "всё", "нет, спасибо, больше ничего": nothing more is needed
ACK = "ack"  # "понятно", "жду звонка": the patient takes note, nothing to act on
CANCEL = "cancel"  # "не надо, передумал", "отмените запись" while a booking is being collected
NO_NAME = "no_name"  # "можно без имени?", "не хочу называть": the patient keeps the name to themselves
AGREE = "agree"  # "согласен", "даю согласие": the consent word itself, not just any "да"

_HANDOFF = re.compile(
    r"(жив(ой|ым|ого|ому)\s+(человек|администратор|оператор|менеджер|сотрудник)\w*|позовите|позвать\s+(человека|администратора|"
    r"оператора|менеджера)|соедините|соединить\s+с|переключите\s+на|хочу\s+поговорить\s+с|"
    r"(поговорить|пообщаться|связаться)\s+с\s+(живым\s+|вашим\s+)?(человеком|администратором|оператором|менеджером)|"
    r"с\s+человеком|"
    r"связаться\s+с\s+(администратором|оператором|человеком|менеджером|регистратурой)|"
    r"(нужен|нужна|дайте|хочу|прошу|можно|пригласите)\s+(\w+\s+)?(администратор|оператор|менеджер|человек))"
)
# A word for a person alone counts only in a short message ("администратор!", "оператора пожалуйста"):
# "когда администратор перезвонит?" does not ask for one.
_HANDOFF_WORD = re.compile(r"(администратор|оператор|менеджер)")
_HANDOFF_NOT = re.compile(r"(перезвон|позвонит|звонил|звонить)")
_RESTART = re.compile(
    r"^(/start\b|/restart\b)|\b(начать\s+(заново|сначала)|начн[её]м\s+(заново|сначала)|"
    r"(давайте|давай|можно|хочу|начн[её]м)\s+(заново|сначала|по\s+новой)|сбросить|отменить\s+заявку|отмена)\b|^(сначала|заново|отмена)[\s!.]*$"
)
_YES_WORDS = {
    "да",
    "ага",
    "угу",
    "ок",
    "окей",
    "ok",
    "okay",
    "yes",
    "верно",
    "правильно",
    "конечно",
    "согласен",
    "согласна",
    "согласны",
    "подтверждаю",
    "хорошо",
    "давайте",
    "отлично",
    "точно",
    "именно",
    "+",
    "👍",
    "ладно",
    "годится",
    "подходит",
    "yep",
    "da",
    "даа",
    "дa",
    "давай",
    "норм",
    "естественно",
    "разумеется",
    "✅",
    "✔",
    "☑",
    "👌",
}
# Yes-words that often open a sentence about something else ("ладно, тогда суббота"): alone they agree,
# followed by a doctor or a day they answer that, not the consent question.
_HEDGES = {"ладно", "давайте", "давай", "хорошо", "годится", "подходит", "норм", "отлично", "точно"}
_FILLER_WORDS = {"ну", "а", "ой", "так", "вот", "тогда", "хотя", "уж", "уже", "же", "пожалуйста"}
# Long yes-words a typo still leaves recognisable ("соглсен", "конечн"); short ones are squeezed only.
_FUZZY_YES = ("согласен", "согласна", "конечно", "хорошо", "подтверждаю")
_FILLERS = re.compile(r"^((ну|а|ой|эм+|м+|хм+|так|вот|да|спасибо|спс|благодарю)[\s,.!]+)+(?=\S)")
_SYMBOLS = re.compile(r"[\W_]+")
# A bare "хочу" or "запишите" answers "Хотите, я запишу вас?" as a "да" does.
_WANT = re.compile(
    r"^(да[\s,]+)?(хочу|хотелось\s+бы|хотим|нужно|надо|запишите|записывайте|запиши|давайте\s+запишемся)"
    r"([\s,]+(пожалуйста|меня|бы))*[\s!.)]*$"
)
_YES_PHRASES = (
    "не против",
    "не возражаю",
    "без проблем",
    "все верно",
    "всё верно",
    "все правильно",
    "всё правильно",
    "все так",
    "всё так",
    "да,",
)
_NO_WORDS = {
    "нет",
    "неа",
    "нее",
    "неет",
    "no",
    "nope",
    "неверно",
    "неправильно",
    "ошибка",
    "отказываюсь",
    "нет,",
    "не-а",
    "❌",
}
_NO_PHRASES = (
    "не так",
    "не верно",
    "не правильно",
    "не согласен",
    "не согласна",
    "не надо",
    "не нужно",
    "не хочу",
    "не то",
    "не тот",
    "не та",
)
_GOODBYE = re.compile(
    r"\b(до\s+свидания|всего\s+доброго|всего\s+хорошего|пока|до\s+встречи|хорошего\s+дня|bye|goodbye)\b"
)
_LATER = re.compile(
    r"(\bподумаю|не\s+сейчас|(позже|потом|попозже)\s+(напишу|запишусь|позвоню|перезвоню|решу)|"
    r"(напишу|запишусь|позвоню|перезвоню)\s+(позже|потом|попозже)|сам[аи]?\s+(позвоню|перезвоню|наберу))"
)
_RESCHEDULE = re.compile(
    r"(перен[её]с\w*|отмен\w*|сдвин\w*|поменя\w*\s+(время|дату|день))\s+(\w+\s+){0,2}?(запис\w*|при[её]м\w*|визит\w*)|"
    r"(запис\w*|при[её]м\w*|визит\w*)\s+(\w+\s+){0,4}?(перенести|перенес\w*|отменить|отмен\w*)"
)
_NEW_BOOKING_VERB = re.compile(r"\b(записат\w*|запишите|запиши|записаться|записываюсь)\b")
_CALLBACK = re.compile(
    r"(когда|во\s+сколько|как\s+скоро|через\s+сколько|скоро\s+ли|в\s+течени\w+\s+какого)\b.{0,40}"
    r"(перезвонит|перезвоните|перезвонят|позвонит|позвоните|позвонят|свяжет|свяжутся|наберет|наберут)\b|"
    r"(перезвоните|позвоните)\s+(мне\s+)?(сегодня|скоро|быстро)\s*\?"
)
_HELP = re.compile(r"^/help\b|^(помощь|help|меню)[\s!?.]*$|что\s+(ты|вы)\s+(умеешь|умеете|можешь|можете)")
_NOT_BOOKING = re.compile(
    r"(без\s+записи|перен[её]с\w*\s+(мою\s+)?запис|отмен\w*\s+(мою\s+)?запис|запись\s+отмен)"
)
_ENOUGH = re.compile(
    r"^((нет|неа|не)[\s,.!]*)?((спасибо|благодарю|спс)[\s,.!]*)?(это\s+|на\s+этом\s+)?"
    r"(вс[её](\s+пока)?|больше\s+ничего(\s+не\s+(надо|нужно))?|ничего(\s+не\s+(надо|нужно))?(\s+больше)?|"
    r"не\s+надо|не\s+нужно|пока\s+нет|пока\s+вс[её]|нет)"
    r"([\s,.!]+(спасибо|благодарю|спс)(\s+большое)?)?[\s!.)👍🙏]*$"
)
_ACK = re.compile(
    r"^(понятно|ясно|понял[аи]?|принято|договорились|отлично|супер|замечательно|прекрасно)\b|"
    r"\b(жд[уеё]м?\s+(вашего\s+)?звонка|буд(у|ем)\s+ждать|жду|ждём|ждем)\b"
)
_CANCEL = re.compile(
    r"(передумал\w*|раздумал\w*|не\s+(буду|хочу|надо|нужно)\s+(уже\s+)?(меня\s+)?(запис\w*|оформлят\w*)|"
    r"отмен\w*\s+(мою\s+|эту\s+)?(запис\w*|заявк\w*)|(запис\w*|заявк\w*)\s+отмен\w*|\bотбой\b|"
    r"(уже\s+)?не\s+(надо|нужно)\s+уже|уже\s+не\s+(надо|нужно|актуально)|неактуально|не\s+актуально)"
)
_NO_NAME = re.compile(
    r"(без\s+имени|не\s+(хочу|буду|стану|обязательно|хотел\w*)\s+(\w+\s+)?(называть|говорить|представлят\w*|"
    r"писать|давать|сообщать)|не\s+скажу|не\s+представлюсь|аноним\w*|зачем\s+(вам\s+)?(мо[её]\s+)?имя|"
    r"имя\s+(не\s+(важно|нужно|обязательно)|обязательно)|обойд[её]мся\s+без|без\s+представлени)"
)
_AGREE = re.compile(r"\b(соглас(ен|на|ны|ен\(на\))|даю\s+согласие)\b")
_DISAGREE = re.compile(r"\bне\s+(соглас|даю)")
_THANKS = re.compile(r"\b(спасибо|благодарю|спс|благодарствую|thanks|thank\s+you|thx)\b")
_GREETING = re.compile(
    r"^(здравствуйте|здравствуй|привет|добрый\s+(день|вечер|утро)|доброе\s+утро|доброго\s+времени"
    r"\s+суток|хай|салют|алло|hi|hello|hey)\b"
)
_BOOKING = re.compile(
    r"(запис|запиш|на\s+при[её]м|к\s+врачу|попасть\s+к|хочу\s+к|нужен\s+(врач|доктор)|нужна\s+консультац|"
    r"консультаци|хочу\s+на|можно\s+к|провериться|обследоваться|сделать\s+узи|сдать)"
)
_QUESTION = re.compile(
    r"(\?|^(как|где|когда|сколько|какие|какой|какая|есть\s+ли|можно\s+ли|нужно\s+ли|надо\s+ли|"
    r"работаете|принимаете|делаете|а\s+(как|где|когда|сколько|есть|можно))\b(?!-)|\bли\b)"
)
_WITHDRAW = re.compile(
    r"((отозвать|отзыва\w*|забира\w*|забрать)\s+(\w+\s+){0,2}согласие|отзыв\s+(\w+\s+)?согласия|"
    r"(удал|стер|сотр|уничтож)\w*[\s,]+(\w+[\s,]+){0,3}данные|"
    r"не\s+(хранит\w*|обрабатыва\w*|использ\w*)\s+(\w+\s+){0,2}(мои|моих)\s+(\w+\s+)?данн\w*)"
)
_CORRECTION = re.compile(
    r"\b(исправ|измени|поменя|смени|другой|другое|другая|не\s+тот|не\s+та|не\s+то\b|не\s+так\b|ошиб|перепута|неправильн|неверн)"
)


def _squeezed(word: str) -> str:
    """ "дда", "оок", "неет": a doubled letter pressed by mistake."""
    return re.sub(r"(.)\1+", r"\1", word)


def _one_typo(a: str, b: str) -> bool:
    """`a` is `b` with one letter wrong, missing, extra or two swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]]
        return len(diff) == 1 or (swapped and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def typo_of(word: str, vocabulary: tuple[str, ...] | set[str]) -> str | None:
    """The word of `vocabulary` that `word` (folded) is a typo of: a doubled letter, or one slip in a long word."""
    if word in vocabulary:
        return word
    squeezed = _squeezed(word)
    if squeezed in vocabulary:
        return squeezed
    if len(word) >= 5:
        return next((v for v in vocabulary if len(v) >= 5 and _one_typo(word, v)), None)
    return None


def hedged_yes(text: str) -> bool:
    """The only yes is a word like «ладно» with more said after it ("ладно, к любому неврологу")."""
    low = fold(text)
    if _AGREE.search(low):
        return False
    content = [t for t in re.findall(r"[а-яёa-z]+", low) if t not in _FILLER_WORDS]
    yes = [t for t in content if t in _YES_WORDS]
    return bool(yes) and all(t in _HEDGES for t in yes) and len(content) > len(yes)


def detect_intents(text: str) -> set[str]:
    low = fold(text).strip()
    found: set[str] = set()
    checks = (
        ("handoff", _HANDOFF, False),
        ("restart", _RESTART, False),
        ("withdraw_consent", _WITHDRAW, False),
        ("goodbye", _GOODBYE, False),
        ("thanks", _THANKS, False),
        ("greeting", _GREETING, False),
        ("booking", _BOOKING, False),
        ("question", _QUESTION, False),
        ("correction", _CORRECTION, False),
    )
    for name, pattern, whole in checks:
        target = low.rstrip("?!. ") if whole else low
        if pattern.search(target):
            found.add(name)
    finding = detect_emergency(text)
    if finding is not None and not finding.soft:
        found.add("emergency")  # the same signs the safety check answers (bot.dialogue.safety)
    if "booking" in found and _NOT_BOOKING.search(low):
        found.discard("booking")  # "можно без записи?", "перенести запись": not a new booking
    short = len(low.split()) <= 4
    if short and _HANDOFF_WORD.search(low) and not _HANDOFF_NOT.search(low):
        found.add("handoff")
    if _LATER.search(low):
        found.add(LATER)
    if _ENOUGH.search(low):
        found.add(ENOUGH)
    if _ACK.search(low):
        found.add(ACK)
    if _CANCEL.search(low):
        found.add(CANCEL)
    if _NO_NAME.search(low):
        found.add(NO_NAME)
    if _HELP.search(low):
        found.add(HELP)
    if _CALLBACK.search(low):
        found.add(CALLBACK)
    if _RESCHEDULE.search(low) and not _NEW_BOOKING_VERB.search(low):
        found.add(RESCHEDULE)
        found.discard("booking")  # "отменить приём к кардиологу" books nothing
    low = low.replace("\ufe0f", "")
    if _SYMBOLS.fullmatch(low) and any(ch in _YES_WORDS for ch in low):
        found.add("yes")  # "👍👍", "✅"
        return found
    bare = _FILLERS.sub("", low) if not low.startswith(("да,", "да ")) else low
    first = re.split(r"[\s,.!?;:)]+", bare, maxsplit=1)[0] if bare else ""
    if low.startswith(_YES_PHRASES) or bare.startswith(_YES_PHRASES):
        found.add("yes")
    elif first in _NO_WORDS or bare.startswith(_NO_PHRASES):
        found.add("no")
    elif first in _YES_WORDS or _WANT.match(low):
        found.add("yes")
    elif first and _squeezed(first) in _NO_WORDS:
        found.add("no")  # "неет", "нетт"
    elif first and (_squeezed(first) in _YES_WORDS or _fuzzy_yes(first)):
        found.add("yes")  # "дда", "соглсен"
    if "no" not in found and "yes" not in found and _AGREE.search(low) and not _DISAGREE.search(low):
        found.add("yes")  # "понятно, да, согласен": agreeing further on in the message
    if _AGREE.search(low) and not _DISAGREE.search(low):
        found.add(AGREE)
    return found


def _fuzzy_yes(word: str) -> bool:
    """A long yes-word with one slip that is no word of its own ("соглсен", not "хороши")."""
    return typo_of(word, _FUZZY_YES) is not None and not morph().word_is_known(word)
