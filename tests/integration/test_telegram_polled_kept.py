"""A polled update is on disk before Telegram can forget it: aiogram confirms a batch with its next getUpdates,
which may leave before the batch's handlers have run, so the batch is kept the moment getUpdates returns."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.bot_api import FakeBotApi
from tests.integration.telegram_harness import running_bot, telegram_settings


async def test_a_polled_batch_is_kept_before_get_updates_returns_it(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api, poll=False) as run:
        run.runtime.keep_polled_batches()  # as start_polling does
        sent = [bot_api.message(5550100 + n, f"Здравствуйте, хочу к лору {n}")["update_id"] for n in range(5)]
        polled = await run.runtime.bot.get_updates(timeout=0)
        # no turn of the event loop since: nothing but the poll itself could have kept them
        kept = [int(str(r[0])) for r in run.app.db.query("SELECT update_id FROM telegram_inbox ORDER BY 1")]
        assert [u.update_id for u in polled] == sent
        assert kept == sent
        again = await run.runtime.bot.get_updates(
            timeout=0
        )  # a redelivery (no offset given) is not kept twice
        assert [u.update_id for u in again] == sent
        assert len(run.app.db.query("SELECT update_id FROM telegram_inbox")) == len(sent)
