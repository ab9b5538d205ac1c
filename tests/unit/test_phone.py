import pytest

from bot.dialogue.extract.phone import extract_phone, normalise_phone, words_to_digits

VALID = [
    ("8 (912) 345-67-89", "+79123456789"),
    ("+7 912 3456789", "+79123456789"),
    ("89123456789", "+79123456789"),
    ("9123456789", "+79123456789"),
    ("+79123456789", "+79123456789"),
    ("7 912 345 67 89", "+79123456789"),
    ("8-912-345-67-89", "+79123456789"),
    ("8.912.345.67.89", "+79123456789"),
    ("8 912 345 67 89", "+79123456789"),
    ("+7(912)345-67-89", "+79123456789"),
    ("+7 (912) 345 - 67 - 89", "+79123456789"),
    ("мой номер 89271234567, звоните после обеда", "+79271234567"),
    ("тел: +7 927 123 45 67", "+79271234567"),
    ("Ольга, 8 917 000 11 22", "+79170001122"),
    ("+7 (846) 200-30-40", "+78462003040"),
    ("8 846 200 30 40", "+78462003040"),
    ("8 800 555 35 35", "+78005553535"),
    ("+375 29 123-45-67", "+375291234567"),
    ("+49 30 901820", "+4930901820"),
    ("восемь девятьсот двенадцать триста сорок пять шестьдесят семь восемьдесят девять", "+79123456789"),
    ("восемь девять один два три четыре пять шесть семь восемь девять", "+79123456789"),
    ("89123456789.", "+79123456789"),
    ("(912) 345-67-89", "+79123456789"),
]
INVALID = [
    ("8912345678", "одной не хватает"),
    ("8 912 345 67", "цифр"),
    ("12345", None),
    ("+7 912 345 67 89 00 11", "цифр"),
    ("891234567890123456", "много"),
    ("8 (000) 000-00-00", "не существует"),
    ("+7 123 456 78 90", "не существует"),
    ("123-45-67", "цифр"),
]
NOT_A_PHONE = ["хочу к лору после 14", "в 10:30", "2026-11-23", "мне 45 лет", "", "позвоните мне"]


@pytest.mark.parametrize(("text", "expected"), VALID)
def test_valid_phones_become_e164(text: str, expected: str) -> None:
    assert extract_phone(text).e164 == expected


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_invalid_phones_get_a_reason(text: str, reason: str | None) -> None:
    result = extract_phone(text)
    assert result.e164 is None
    if reason:
        assert result.problem and reason in result.problem


@pytest.mark.parametrize("text", NOT_A_PHONE)
def test_other_numbers_are_not_phones(text: str) -> None:
    result = extract_phone(text)
    assert result.e164 is None and result.problem is None


def test_digit_words_compose_numbers() -> None:
    assert words_to_digits("девятьсот двенадцать") == "912"
    assert words_to_digits("сорок пять пять") == "45 5"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("79123456789", "+79123456789"),
        ("+79123456789", "+79123456789"),
        ("89123456789", "+79123456789"),
        ("", None),
    ],
)
def test_shared_contact_numbers(raw: str, expected: str | None) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [("12345", "в номере 5 цифр, а нужно 11"), ("12-34", "в номере 4 цифры"), ("8 912 3", "в номере 5 цифр")],
)
def test_a_short_number_answering_the_phone_question_is_a_phone_with_digits_missing(
    text: str, reason: str
) -> None:
    result = extract_phone(text, expecting=True)
    assert result.e164 is None and result.problem and result.problem.startswith(reason)


def test_the_reason_does_not_repeat_the_example_the_reply_gives() -> None:
    assert "например" not in (extract_phone("8 912 345 67").problem or "")
