"""Which Bot API calls the Telegram session paces, with which budgets, and production's figures."""

from __future__ import annotations

from pathlib import Path

from aiogram import methods

from bot.channels.pacing import REPLY, TYPING
from bot.channels.telegram.session import _pace_of, telegram_pacer
from bot.config import Settings, load_settings


def test_messages_take_their_chat_s_budget_and_groups_their_own() -> None:
    assert _pace_of(methods.SendMessage(chat_id=42, text="x")) == ((("chat", 42),), REPLY, None)
    assert _pace_of(methods.SendMessage(chat_id=-100500, text="x")) == ((("group", -100500),), REPLY, None)
    edit = methods.EditMessageText(chat_id=-100500, message_id=3, text="x")
    assert _pace_of(edit) == ((("group", -100500),), REPLY, None)
    assert _pace_of(methods.SendPhoto(chat_id=7, photo="file-id")) == ((("chat", 7),), REPLY, None)


def test_typing_and_button_answers_take_the_bot_s_budget_only_and_may_be_dropped() -> None:
    assert _pace_of(methods.SendChatAction(chat_id=42, action="typing")) == ((), TYPING, 0.0)
    keys, priority, stale = _pace_of(methods.AnswerCallbackQuery(callback_query_id="1"))  # type: ignore[misc]
    assert keys == () and priority == REPLY and stale is not None and stale > 0


def test_calls_that_send_nothing_are_not_paced() -> None:
    assert _pace_of(methods.GetUpdates()) is None
    assert _pace_of(methods.GetChatMember(chat_id=-1, user_id=2)) is None
    assert _pace_of(methods.GetMe()) is None


def test_production_paces_at_telegram_s_published_limits(settings: Settings, tmp_path: Path) -> None:
    assert (settings.telegram_rate, settings.telegram_chat_rate, settings.telegram_group_rate) == (30, 1, 20)
    assert settings.whatsapp_rate == 80
    pacer = telegram_pacer(settings)
    assert pacer.limits["chat"].rate == 1
    assert abs(pacer.limits["group"].rate - 20 / 60) < 1e-9
    two = telegram_pacer(load_settings(data_dir=tmp_path, telegram_workers=2))
    assert two._shared is not None and two._shared.limit.rate == 15  # each of two: half the bot's budget
    assert abs(two.limits["group"].rate - 10 / 60) < 1e-9  # and half the admin chat's
    assert two.limits["chat"].rate == 1  # a patient's chat belongs to one process: its whole budget
