"""Paced sends against a fake Bot API that enforces Telegram's limits (429 with retry_after over them)."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.bot_api import FakeBotApi
from tests.integration.telegram_harness import running_bot, telegram_settings

PATIENTS = 60
FIRST = 50_000
REAL = {"telegram_rate": 30, "telegram_chat_rate": 1, "telegram_group_rate": 20}  # production's defaults


async def test_sixty_patients_at_once_are_all_answered_without_429s(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    limits = bot_api.enforce_limits()
    settings = telegram_settings(tmp_path, bot_api, **REAL)
    chats = [FIRST + i for i in range(PATIENTS)]
    async with running_bot(settings, bot_api) as run:
        for chat in chats:
            bot_api.message(chat, "Здравствуйте, хочу записаться к лору")
        await bot_api.wait_for(lambda: all(bot_api.to(c) for c in chats), timeout=30)
        await run.runtime.channel.drain()
        session = run.runtime.bot.session
        sends = [name for name, _ in bot_api.calls if name not in ("getUpdates", "getMe")]
        assert len(bot_api.to(chats[0])) >= 1 and len(bot_api.sent) >= PATIENTS
        assert len(bot_api.refused) <= len(sends) // 100, bot_api.refused  # at most 1 %: none here
        assert getattr(session, "refused", None) == len(bot_api.refused)
        # the limits were really in force: over 30 messages went out, so a flood would have been refused
        assert limits.bot is not None and len(sends) > limits.per_bot
    first_reply = {s.chat_id: i for i, s in reversed(list(enumerate(bot_api.sent)))}
    # answered in the order they wrote: the first twenty before the last twenty
    assert max(first_reply[c] for c in chats[:20]) < min(first_reply[c] for c in chats[-20:])


async def test_without_pacing_the_same_burst_is_refused(bot_api: FakeBotApi, tmp_path: Path) -> None:
    """The enforced fake does refuse a flood: the test above would fail without the pace."""
    bot_api.enforce_limits()
    settings = telegram_settings(tmp_path, bot_api, telegram_rate=0, telegram_chat_rate=0)
    chats = [FIRST + i for i in range(PATIENTS)]
    async with running_bot(settings, bot_api) as run:
        for chat in chats:
            bot_api.message(chat, "Здравствуйте, хочу записаться к лору")
        await bot_api.wait_for(lambda: all(bot_api.to(c) for c in chats), timeout=30)
        await run.runtime.channel.drain()
    assert len(bot_api.refused) > 0


async def test_typing_is_left_out_rather_than_sent_after_the_answers(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    bot_api.enforce_limits()
    settings = telegram_settings(tmp_path, bot_api, telegram_debounce="0.3s", **REAL)
    chats = [FIRST + i for i in range(PATIENTS)]
    async with running_bot(settings, bot_api) as run:
        for chat in chats:
            bot_api.message(chat, "Здравствуйте")
        await bot_api.wait_for(lambda: all(bot_api.to(c) for c in chats), timeout=30)
        await run.runtime.channel.drain()
    assert not bot_api.refused
    shown = {chat for chat, _ in bot_api.actions}
    assert shown  # spare budget at the start of the burst showed "typing…"
    for chat in shown:  # and never after the chat's answer
        first_reply = next(i for i, (name, p) in enumerate(bot_api.calls)
                           if name == "sendMessage" and int(p["chat_id"]) == chat)  # fmt: skip
        typing = [i for i, (name, p) in enumerate(bot_api.calls)
                  if name == "sendChatAction" and int(p["chat_id"]) == chat]  # fmt: skip
        assert min(typing) < first_reply
