"""MAX delivery guarantees: the webhook's secret, redeliveries answered once, a crash losing nothing, 429
retried, a blocked patient logged, long texts split, the polling/webhook switch, `check`."""

from __future__ import annotations

import asyncio
import logging
import stat
from dataclasses import replace

import pytest
from pydantic import SecretStr

from bot.bootstrap import build_app
from bot.channels.max import MaxClient, setup_max
from bot.channels.max.inbound import parse_update
from bot.checks.max import check_max
from bot.checks.model import Mark
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Address, Outgoing
from bot.http.server import create_http_app
from tests.fakes.max_api import TOKEN, FakeMaxApi
from tests.integration.max_harness import PATIENT, PUBLIC_URL, SECRET, buttons, running, visible

KEY = f"max:{PATIENT}"


async def test_webhook_refuses_a_missing_or_wrong_secret(settings: Settings, clock: FakeClock) -> None:
    async with running(settings, clock, webhook=True) as mx:
        update = mx.api.message_created(PATIENT, "Здравствуйте")
        assert await mx.post_raw(update, None) == 401
        assert await mx.post_raw(update, SECRET + "x") == 401
        assert await mx.post_raw(update, "") == 401
        await mx.channel.drain()
        assert mx.api.to(PATIENT) == [] and mx.channel.inbox.counts() == {}
        assert mx.channel.counts["refused"] == 3
        # The subscription was registered with the same secret; with it the update is taken.
        assert mx.api.subscriptions == [
            {
                "url": PUBLIC_URL,
                "secret": SECRET,
                "update_types": ["message_created", "message_callback", "bot_started"],
            }
        ]
        assert await mx.post_raw(update, SECRET) == 200
        await mx.channel.drain()
        assert "Здоровье Самары" in visible(mx.api.to(PATIENT))
        # With the secret, a body that is not JSON or nests absurdly deep is a clean 400.
        headers = {"X-Max-Bot-Api-Secret": SECRET, "Content-Type": "application/json"}
        for body in (b"not json", b"[" * 50_000 + b"]" * 50_000):
            async with mx.http.post(mx.url + "/webhook/max", data=body, headers=headers) as response:
                assert response.status == 400


async def test_webhook_without_a_secret_gets_one_generated_and_kept(
    settings: Settings, clock: FakeClock
) -> None:
    api = FakeMaxApi()
    url = await api.start()
    try:
        configured = settings.model_copy(
            update={
                "max_bot_token": SecretStr(TOKEN),
                "max_api_url": url,
                "max_webhook_url": "https://clinic.example",
            }
        )
        secrets = []
        for _ in range(2):  # a second start keeps the same secret
            app = build_app(configured, clock=clock)
            runtime = setup_max(app, create_http_app(app), client=MaxClient(url, TOKEN))
            await runtime.start()
            secrets.append(api.subscriptions[-1]["secret"])
            assert api.subscriptions[-1]["url"] == PUBLIC_URL  # the path added to the bare address
            assert runtime.channel.webhook_secret == secrets[-1]
            await runtime.stop()
            app.close()
        assert secrets[0] == secrets[1] and len(secrets[0]) >= 32
        kept = settings.data_dir / "max_webhook_secret"
        assert kept.read_text(encoding="utf-8").strip() == secrets[0]
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    finally:
        await api.stop()


@pytest.mark.parametrize("webhook", [False, True])
async def test_a_redelivered_update_is_answered_once(
    settings: Settings, clock: FakeClock, webhook: bool
) -> None:
    async with running(settings, clock, webhook=webhook) as mx:
        update = mx.api.message_created(PATIENT, "Здравствуйте")
        first = await mx.send(update)
        assert first
        assert await mx.send(update) == []
        assert mx.channel.counts["duplicate"] == 1
        assert mx.channel.inbox.counts() == {"done": 1}


async def test_a_crash_between_the_commit_and_the_send_loses_nothing(
    settings: Settings, clock: FakeClock
) -> None:
    async with running(settings, clock, webhook=True) as mx:
        update = mx.api.message_created(PATIENT, "Здравствуйте")
        parsed = parse_update(update)
        assert parsed is not None
        # As kill -9 leaves it: the update on disk, the dialogue's turn committed, nothing sent.
        mx.channel.inbox.record([(parsed.key, parsed.user_id, update)], clock.now())
        address = Address("max", parsed.user_id, parsed.contact)
        decided = await mx.app.service.handle(address, replace(parsed.incoming, receipts=(parsed.key,)))
        assert mx.api.to(PATIENT) == []
    async with running(settings, clock, webhook=True) as again:  # the next start
        await again.channel.drain()
        assert [m["text"] for m in again.api.to(PATIENT)] == [m.text for m in decided]
        assert again.channel.inbox.counts() == {"done": 1}
        # Redelivered by MAX after the restart: recognised, not answered again.
        assert await again.send(update) == []


async def test_polling_resumes_from_the_kept_marker(settings: Settings, clock: FakeClock) -> None:
    async with running(settings, clock) as mx:
        await mx.say("Здравствуйте")
        marker = mx.channel.inbox.marker()
        assert marker == 1
        assert mx.api.markers_asked[0] is None  # the very first poll: whatever MAX still keeps
    async with running(settings, clock) as again:
        for _ in range(1000):
            if again.api.markers_asked:
                break
            await asyncio.sleep(0.01)
        assert again.api.markers_asked[0] == "1"


async def test_rate_limit_is_retried(settings: Settings, clock: FakeClock) -> None:
    async with running(settings, clock) as mx:
        mx.api.fail_next(2)
        replies = await mx.say("Здравствуйте")
        assert "Здоровье Самары" in visible(replies)
        assert [code for code, _ in mx.api.refused] == ["too.many.requests", "too.many.requests"]
        assert mx.channel.client.retries == 2


async def test_a_blocked_patient_is_logged_and_nothing_breaks(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(settings, clock, webhook=True) as mx:
        mx.api.blocked.add(PATIENT)
        with caplog.at_level(logging.WARNING, logger="bot.channels.max"):
            assert await mx.say("Здравствуйте") == []
        assert mx.channel.counts["blocked"] == 1
        assert any("нельзя написать" in r.getMessage() for r in caplog.records)
        assert mx.channel.inbox.counts() == {"done": 1}
        assert not await mx.app.messengers.send(
            Address("max", str(PATIENT)), [Outgoing("Ответ администратора")]
        )
        mx.api.blocked.clear()  # unblocked: the bot answers again
        assert await mx.say("Здравствуйте")


async def test_long_text_is_split_under_the_limit(settings: Settings, clock: FakeClock) -> None:
    async with running(settings, clock) as mx:
        text = ("Очень длинный ответ администратора. " * 200).strip()
        assert await mx.app.messengers.send(Address("max", str(PATIENT)), [Outgoing(text)])
        pieces = [m["text"] for m in mx.api.to(PATIENT)]
        assert len(pieces) == 2 and all(len(p) <= 4000 for p in pieces)
        assert mx.api.refused == []


async def test_polling_removes_a_webhook_subscription_left_behind(
    settings: Settings, clock: FakeClock
) -> None:
    async with running(settings, clock, webhook=True) as mx:
        assert mx.api.subscriptions
        api_url = mx.api.url
    api = FakeMaxApi()
    api.subscriptions = [{"url": PUBLIC_URL, "secret": SECRET, "update_types": None}]
    url = await api.start()
    try:
        configured = settings.model_copy(update={"max_bot_token": SecretStr(TOKEN), "max_api_url": url})
        app = build_app(configured, clock=clock)
        runtime = setup_max(app, create_http_app(app), client=MaxClient(url, TOKEN))
        await runtime.start(polling_timeout=1)
        assert api.subscriptions == []
        await runtime.stop(timeout=1)
        app.close()
    finally:
        await api.stop()
    assert api_url != url


async def test_check_reads_the_bot_and_refuses_a_wrong_token(settings: Settings) -> None:
    api = FakeMaxApi()
    url = await api.start()
    try:
        good = settings.model_copy(update={"max_bot_token": SecretStr(TOKEN), "max_api_url": url})
        lines = await check_max(good)
        assert lines[0].mark is Mark.OK and "@zdorovie_samara_bot" in lines[0].detail
        bad = good.model_copy(update={"max_bot_token": SecretStr("wrong-token-123456")})
        [line] = await check_max(bad)
        assert line.mark is Mark.FAIL and "MAX_BOT_TOKEN" in line.fix
        assert (await check_max(settings))[0].mark is Mark.SKIP
        api.chats.add(-700)
        lines = await check_max(good.model_copy(update={"max_admin_chat_id": -700}))
        assert lines[-1].mark is Mark.OK and "Администраторы" in lines[-1].detail
        lines = await check_max(good.model_copy(update={"max_admin_chat_id": -701}))
        assert lines[-1].mark is Mark.FAIL and "MAX_ADMIN_CHAT_ID" in lines[-1].fix
    finally:
        await api.stop()


async def test_a_press_on_an_old_or_spent_keyboard_is_refused(settings: Settings, clock: FakeClock) -> None:
    async with running(settings, clock) as mx:
        greeting = await mx.say("Здравствуйте")
        keyboard = greeting[-1]
        [ent] = [b for b in buttons(keyboard) if b["text"] == "ЛОР"]
        first = mx.api.press(PATIENT, keyboard, ent["payload"])
        twice = mx.api.press(PATIENT, keyboard, ent["payload"])  # a quick second tap before the edit
        assert "согласн" in visible(await mx.send(first)).lower()
        assert await mx.send(twice) == []
        assert mx.api.answers[-1]["notification"].startswith("Эти кнопки уже неактуальны")
        assert mx.channel.counts["stale"] == 1
        stored = mx.app.store.find(KEY)
        assert stored is not None and stored.state.booking.specialty == "ЛОР"
