"""Medical advice in a reply: a diagnosis, a drug, a dose, a regimen or a home treatment.

An administrator does none of these (`prompts/system.md`, rule 1), and the code never makes them, so a
reply with any is replaced by the offline answer. What an administrator may say passes: which specialist
usually sees such a complaint, that only a doctor diagnoses or prescribes, and the clinic's own answers
(preparation for tests: "кровь сдают натощак", "можно пить обычную воду"). Words the knowledge itself
uses never count as a sign, so an operator's FAQ is never mistaken for the model's advice.
"""

from __future__ import annotations

import re

from bot.dialogue.language import lemma, morph, words
from bot.engine.reply_text import cyrillic_view

__all__ = ["medical_problem"]


def _lexicon(text: str) -> frozenset[str]:
    """A word list written as text, one or more words a line."""
    return frozenset(text.split())


# Diseases and conditions, by lemma, and the endings of their names ("-ит", "-оз"...).
_DISEASES = _lexicon(
    """
    ангина грипп орви орз ковид covid коронавирус мигрень язва диабет гипертония гипотония аллергия
    простуда инфекция вирус пневмония воспаление инсульт инфаркт грыжа перелом растяжение вывих экзема
    псориаз грибок молочница астма депрессия невралгия защемление отравление опухоль рак киста полип
    аденоид катаракта глаукома аритмия тахикардия стенокардия анемия дисбактериоз невроз сотрясение ушиб
    герпес лишай чесотка акне бессонница мастопатия эрозия геморрой варикоз подагра радикулит ишиас
    крапивница ветрянка краснуха корь скарлатина коклюш оспа свинка ожог обморожение дисплазия
    ротавирус норовирус энтеровирус стоматит кариес пульпит
    """
)
_DISEASE_ENDINGS = re.compile(r"^[а-я]{2,}(ит|оз|патия|алгия|ома)$")
_NOT_DISEASES = _lexicon(
    """
    визит транзит депозит кредит аппетит лимит магнит динамит наркоз прогноз диагноз мороз гипноз навоз
    паровоз привоз вывоз завоз подвоз колхоз хромосома аксиома гематома
    """
)
# Words that put a condition on the patient: "у вас", "похоже на", "скорее всего"...
_ATTRIBUTION = re.compile(
    r"((?<!если\s)(?<!когда\s)\bу\s+(вас|тебя|ребенка|малыша)\b|\bпохож\w*|\bскорее\s+всего|\bвероятн\w*|\bвидимо\b|"
    r"\bнаверн\w*|\bдума(?:ю|ем)\b|\bпредполага\w*|\bвозможно\b|\bпо\s+(всей\s+видимости|описанию|симптомам)|\bсудя\s+по|\bнапомина\w*|"
    r"\bпризнак\w*|\bсимптом\w*\s+(\w+\s+)?(говор|указыва)|\bэто\s+(может\s+быть|точно|явно)|"
    r"\bдиагноз\w*\s*[:—-]|\bу\s+вас\s+(может\s+быть|начинается|развивается))"
)
# Drug names an assistant might produce, and the endings of international names.
_DRUGS = _lexicon(
    """
    парацетамол ибупрофен нурофен амоксициллин аугментин амоксиклав флемоксин азитромицин сумамед
    кларитромицин ципрофлоксацин левофлоксацин цефтриаксон цефиксим супракс анальгин аспирин цитрамон
    кеторол кеторолак найз нимесил нимесулид диклофенак вольтарен мовалис мелоксикам супрастин зиртек
    лоратадин кларитин цетиризин эриус називин отривин ксилометазолин изофра полидекса отипакс
    мирамистин хлоргексидин анаферон арбидол кагоцел ингавирин эргоферон омепразол омез мезим фестал
    смекта энтеросгель полисорб валидол корвалол валериана глицин фенибут афобазол амлодипин эналаприл
    лизиноприл каптоприл бисопролол конкор метопролол метформин эутирокс тироксин аторвастатин варфарин
    кардиомагнил левомеколь пантенол бепантен ацикловир зовиракс флуконазол дифлюкан клотримазол
    тербинафин преднизолон дексаметазон гидрокортизон но-шпа дротаверин спазмалгон пенталгин терафлю
    колдрекс фервекс ацц амброксол лазолван бромгексин синупрет тантум гексорал стрепсилс фарингосепт
    граммидин лизобакт линекс бифиформ ношпа антигриппин ринофлуимуцил аквамарис физраствор фурацилин
    йодинол люголь зеленка перекись ибуклин мукалтин виферон гриппферон деринат
    """
)
# Stems, so any case form counts ("нурофена", "но-шпу", "амоксициллином") whatever pymorphy guesses.
_DRUG_STEMS = re.compile(
    "^(?:" + "|".join(sorted((d[:-1] if d[-1] in "аоьйяе" else d) for d in _DRUGS if len(d) > 3)) + ")"
)
_DRUG_ENDINGS = re.compile(
    r"^[а-я]{3,}(циллин|мицин|флоксацин|цефал\w*|профен|прил|сартан|пролол|празол|тидин|статин|зепам|"
    r"коназол|тромицин|циклин|вирин|кортизон|метазон|металин|дипин|фенак|ксикам)$"
)
_LATIN_MEDICAL = re.compile(
    r"\b(mg|ml|mcg|amoxic\w*|ibuprof\w*|paracetam\w*|azithro\w*|\w+cillin|\w+mycin|\w+floxacin|tablet\w*)\b"
)
# Medicines in general, forms and doses: signs of prescribing wherever they stand.
_MEDICINE_WORDS = _lexicon(
    """
    таблетка капсула капля мазь спрей сироп ампула укол инъекция капельница порошок суспензия свеча
    антибиотик обезболивающее жаропонижающее противовирусный антигистаминный противовоспалительный
    обезболивающий жаропонижающий пробиотик витамин бад гомеопатия препарат лекарство медикамент
    дозировка доза миллиграмм миллилитр ингаляция компресс горчичник пластырь сосудосуживающий
    антисептик
    """
)
_GENERAL_MEDICINE = {"препарат", "лекарство", "медикамент", "антибиотик", "витамин", "доза", "дозировка"}
_DOSE = re.compile(
    r"(\d+(?:[.,]\d+)?\s*((мг|мл|мкг|ме|ед)\b|таб\w*|капс\w*|капл\w*|капел\w*|грамм\w*)|\bмг\b|\bмкг\b|\bмл\b|"
    r"\b(\d+|один|одну|два|две|три|четыре|пять)\s*(раз\w*|р\.|таблет\w*|капел\w*|капсул\w*|пшик\w*|"
    r"впрыск\w*)\s*(в|за)\s*(день|сутки|неделю)|\b(дважды|трижды|раз)\s+в\s+(день|сутки)|"
    r"\bкажды[ей]\s+\d+\s*час|\b(до|после|во\s+время)\s+еды\b|\bна\s+ночь\b|\bнатощак\s+по\b|"
    r"\bкурс\w*\s+(лечени|антибиот|приема|приёма|таблет|уколов|капел|препарат|терапи|\d)|"
    r"\bкурсом\b|\bпо\s+\d+\s*(мг|мл|таб|капл|капс|раз))"
)
# Treatment verbs (lemmas): "принимайте", "пропейте", "полощите", "прогрейте"...
_TREATMENT_VERBS = _lexicon(
    """
    пропить полоскать прополоскать закапывать закапать капать промывать промыть мазать намазать
    смазывать смазать прогревать прогреть греть погреть уколоть проколоть рассасывать сбивать сбить
    лечиться растирать растереть пшикать брызгать капнуть парить попарить втирать закапывание полоскание
    прогревание
    """
)
# Verbs with other senses ("ЛОР принимает детей", "колет в боку"): a sign only as a command.
_COMMAND_ONLY = {"пить", "выпить", "попить", "принимать", "принять", "лечить", "вылечить", "колоть"}
_WATER = re.compile(r"\bвод[аыуе]\b")
_IMPERATIVE_OR_ADVICE = re.compile(
    r"\b(рекоменд\w*|совет\w*|нужно|надо|следует|стоит|попробуйте|можете|можно|лучше|необходимо|"
    r"обязательно|помогает|поможет|помогут)\b"
)
# "Диагноз поставит врач", "лекарства назначает только врач": deferring to a doctor is allowed.
_DEFERS = re.compile(
    r"(\bне\s+(могу|можем|вправе|ставлю|ставим|назначаю|назначаем|советую|рекомендую|подскажу|"
    r"даю|даём|даем)\b|\bтолько\s+(врач|доктор|специалист)|\b(врач|доктор|специалист)\w*\s+(\w+\s+)?"
    r"(поставит|назначит|подберет|подберёт|определит|скажет|решит|выпишет|оценит|посмотрит))|"
    r"\b(103|112)\b|\bскор\w+\s+помощ\w*|\bскорую\b"
)
_SENTENCES = re.compile(r"[^.!?…\n]+")


def medical_problem(reply: str, known_words: set[str]) -> str | None:
    """What in the reply is medical advice (a diagnosis, a drug, a dose, a treatment), or None."""
    text = cyrillic_view(reply)
    if _LATIN_MEDICAL.search(text):
        return "медицинский совет: лекарство или доза"
    for sentence in _SENTENCES.findall(text):
        problem = _sentence_problem(sentence, known_words)
        if problem:
            return problem
    return None


def _sentence_problem(sentence: str, known_words: set[str]) -> str | None:
    tokens = [w for w in words(sentence) if w not in known_words]
    lemmas = [lemma(w) for w in tokens]
    defers = bool(_DEFERS.search(sentence))
    for word, base in zip(tokens, lemmas, strict=True):
        if base in _DRUGS or word in _DRUGS or _DRUG_STEMS.match(word) or _DRUG_ENDINGS.match(base):
            return f"медицинский совет: лекарство ({word})"
        if base in _MEDICINE_WORDS and not (defers and base in _GENERAL_MEDICINE):
            return f"медицинский совет: препарат ({word})"
    dose = _DOSE.search(sentence)
    if dose and not all(w in known_words for w in words(dose.group(0))):
        return f"медицинский совет: доза или схема приёма ({dose.group(0).strip()})"
    if not defers and _has_treatment(tokens, lemmas, sentence):
        return "медицинский совет: лечение"
    every = words(sentence)  # a disease counts even when the knowledge names it (the doctors' services)
    if not defers and _names_disease(every, [lemma(w) for w in every], bool(_ATTRIBUTION.search(sentence))):
        return "медицинский совет: диагноз"
    return None


def _has_treatment(tokens: list[str], lemmas: list[str], sentence: str) -> bool:
    for word, base in zip(tokens, lemmas, strict=True):
        if base in _COMMAND_ONLY:
            if base in {"пить", "выпить", "попить"} and _WATER.search(sentence):
                continue  # "можно пить только воду": the clinic's preparation for a test
            if _is_command(word):
                return True
        elif base in _TREATMENT_VERBS and (_is_command(word) or _IMPERATIVE_OR_ADVICE.search(sentence)):
            return True
    return False


def _is_command(word: str) -> bool:
    return any("impr" in parse.tag for parse in morph().parse(word))


def _names_disease(tokens: list[str], lemmas: list[str], attributed: bool) -> bool:
    """A disease named in a sentence that puts it on the patient, or right after "это" ("это отит")."""
    for i, (word, base) in enumerate(zip(tokens, lemmas, strict=True)):
        if base in _NOT_DISEASES or word in _NOT_DISEASES:
            continue
        disease = base in _DISEASES or word in _DISEASES or bool(_DISEASE_ENDINGS.match(base))
        if disease and (attributed or "это" in tokens[max(0, i - 2) : i]):
            return True
    return False
