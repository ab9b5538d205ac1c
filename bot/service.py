"""The application service: one patient message in, replies out; the state and leads committed in between."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from bot.alerts import Alert, AlertPoster, alerts_of
from bot.clock import Clock
from bot.dialogue.buttons import understand_button
from bot.dialogue.core import DialogueCore
from bot.dialogue.messages import (
    Address,
    Effect,
    ForgetPersonalData,
    Incoming,
    Outgoing,
    StoreLead,
)
from bot.dialogue.sanitize import clean_incoming
from bot.dialogue.state import ConversationState, Stage
from bot.engine.port import Engine, Understanding
from bot.errors import StaleState
from bot.knowledge.models import Knowledge
from bot.notify import AdminNotifier, MessengerRegistry
from bot.redact import mask_key
from bot.storage.state_store import Answered, StateStore
from sheets.outbox import OutboxFlusher
from sheets.schema import Lead

log = logging.getLogger(__name__)

DueAt = Callable[[ConversationState, datetime], str]
T = TypeVar("T")

# Saves of one conversation tried before giving up: each retry follows a commit by another process, so a
# third conflict in a row means something keeps rewriting the conversation.
SAVE_ATTEMPTS = 3
# How long a patient's answer waits for the administrators' alerts of its turn (a slow admin chat: the
# alerts go on in the background, kept until posted).
ALERT_WAIT = 2.0


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class RecordedRow:
    """The unconfirmed row a conversation already has in the sheet, as it was before the core's step."""

    lead_id: str
    at: str

    @classmethod
    def of(cls, state: ConversationState) -> RecordedRow:
        return cls(state.lead_id if state.unconfirmed_recorded else "", state.unconfirmed_at)

    def keep_after_restart(self, state: ConversationState, effects: list[Effect]) -> None:
        """«Начать заново» (/start, «давайте сначала») resets the booking and with it the row's ID; the
        patient's new booking is still the same request to the administrators, so it completes that row
        (a confirmed lead or a withdrawn consent end the row's story and are left as the core decided)."""
        if not self.lead_id or state.lead_id or state.consent.declined_at:
            return
        if any(isinstance(e, StoreLead | ForgetPersonalData) for e in effects):
            return
        state.lead_id = self.lead_id
        state.unconfirmed_recorded = True
        state.unconfirmed_at = self.at


async def retry_stale(key: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """Run `attempt` (read a conversation, decide, save) again while its save finds the conversation changed
    by another process (StaleState), up to SAVE_ATTEMPTS times; then StaleState propagates. An attempt must
    have no side effect but its save: what is sent or told comes after this returns."""
    tries = 1
    while True:
        try:
            return await attempt()
        except StaleState:
            if tries >= SAVE_ATTEMPTS:
                log.warning(
                    "диалог %s менялся в другом месте при каждой попытке (попыток: %d)", mask_key(key), tries
                )
                raise
            log.info("диалог %s изменён другим процессом; читаю и решаю заново", mask_key(key))
            tries += 1


@dataclass(slots=True)
class _Turn:
    """One patient message decided and committed; what is still to be done after the commit."""

    state: ConversationState
    replies: list[Outgoing]
    effects: list[Effect]
    alerts: list[Alert] = field(default_factory=list)
    withdrawn: bool = False
    forgotten: list[Lead] = field(default_factory=list)


def withdrawal_notice(channel: str, forgotten: list[str], confirmed: list[str]) -> str:
    """What the administrators are told when a patient withdraws consent ('' when no row is concerned).
    `forgotten`: the rows stripped of the personal data now; `confirmed`: those of them the patient had
    confirmed. Lead IDs only: the patient's data is not repeated."""
    if not forgotten:
        return ""
    one = len(forgotten) == 1
    parts = [
        f"Пациент ({channel}) отозвал согласие на обработку персональных данных.",
        f"{'Заявка' if one else 'Заявки'} {', '.join(forgotten)}: имя, телефон и контакт удалены из таблицы "
        "автоматически, статус — «отказ» (если вы не поставили свой). Прежние оповещения о "
        f"{'ней' if one else 'них'} в этом чате бот очистил; если данные пациента пересылались или "
        "копировались отдельно, удалите их, пожалуйста, вручную.",
    ]
    if confirmed:
        which = "подтверждённой заявке" if len(confirmed) == 1 else "подтверждённым заявкам"
        parts.append(
            f"По {which} {', '.join(confirmed)} пациент больше не ждёт звонка; если запись уже сделана в "
            "медицинской системе, решите, нужна ли она."
        )
    return " ".join(parts)


class ConversationService:
    """What every channel calls. Business rules live in the core; this class does the I/O around it."""

    def __init__(
        self,
        *,
        store: StateStore,
        engine: Engine,
        core: DialogueCore,
        knowledge: Callable[[], Knowledge],
        notifier: AdminNotifier,
        clock: Clock,
        flusher: OutboxFlusher | None = None,
        messengers: MessengerRegistry | None = None,
        handoff_timeout: timedelta = timedelta(hours=2),
        due_at: DueAt | None = None,
        alerts: AlertPoster | None = None,
    ) -> None:
        self.store = store
        self.engine = engine
        self.core = core
        self.knowledge = knowledge
        self.notifier = notifier
        self.clock = clock
        self.flusher = flusher
        self.messengers = messengers or MessengerRegistry()
        self.handoff_timeout = handoff_timeout
        self.due_at = due_at
        self.alerts = alerts if alerts is not None else AlertPoster(store.alerts, notifier, store, clock)
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    def conversation_lock(self, key: str) -> asyncio.Lock:
        """The lock that serialises everything done to one conversation (messages, timers, admins)."""
        return self._locks[key]

    async def handle(self, address: Address, incoming: Incoming) -> list[Outgoing]:
        """Answer one patient message. The lead, if any, is in the local record before this returns."""
        incoming = clean_incoming(incoming)  # no control characters, lone surrogates or megabyte texts
        async with self._locks[address.key]:
            if incoming.receipts:
                replayed = self.store.answered(incoming.receipts)
                if replayed.receipts >= set(incoming.receipts):
                    log.info(
                        "%s: на повторно полученное сообщение уже был ответ; отправляю его снова",
                        mask_key(address.key),
                    )
                    return list(replayed.replies)
            turn = await retry_stale(address.key, lambda: self._turn(address, incoming))
            # Committed: the administrators are told once, whatever attempt succeeded.
            await self._after_commit(address, turn)
            if turn.withdrawn:
                await self._consent_withdrawn(address, turn.state, turn.forgotten)
            return turn.replies

    async def _turn(self, address: Address, incoming: Incoming) -> _Turn:
        """Read the conversation, decide and save; no side effect, so a stale save can be run again."""
        now = self.clock.now()
        state = self.store.load(address)
        if state.stage == Stage.HANDOFF and not self._handoff_expired(state, now):
            # relayed; the patient hears when to expect an administrator while none has answered yet
            step = self.core.during_handoff(state, incoming, self.knowledge(), now)
            state.last_patient_at = iso(now)
            alerts = alerts_of(address.key, step.effects)
            self.store.save(
                address, state, iso(now), receipts=incoming.receipts, replies=step.replies, alerts=alerts
            )
            return _Turn(state, step.replies, step.effects, alerts)
        if state.stage == Stage.HANDOFF:
            state.stage = Stage.BOOKING if state.booking.specialty or state.booking.doctor else Stage.IDLE
        knowledge = self.knowledge()
        understanding = await self._understand(state, incoming, knowledge)
        recorded = RecordedRow.of(state)
        had_consent = bool(state.consent.given_at)
        step = self.core.decide(state, incoming, understanding, address, now, knowledge)
        recorded.keep_after_restart(state, step.effects)
        state.last_patient_at = iso(now)
        state.tokens_used += understanding.tokens
        leads = [(e.lead, e.update) for e in step.effects if isinstance(e, StoreLead)]
        withdrawn = had_consent and any(isinstance(e, ForgetPersonalData) for e in step.effects)
        rows = self._conversation_rows(address) if withdrawn else []
        alerts = alerts_of(address.key, step.effects)
        forgotten = self.store.save(
            address, state, iso(now), leads, due_at=self._due(state, now), forget=rows,
            receipts=incoming.receipts, replies=step.replies, alerts=alerts,
        )  # fmt: skip
        return _Turn(state, step.replies, step.effects, alerts, withdrawn, forgotten)

    async def _understand(
        self, state: ConversationState, incoming: Incoming, knowledge: Knowledge
    ) -> Understanding:
        if incoming.button is not None:
            return understand_button(incoming.button, state, knowledge)
        typed = self.core.typed_button(incoming.text, state) if incoming.text else None
        if typed is not None:  # a button's label typed as text works like the button
            return understand_button(typed, state, knowledge)
        return await self.engine.understand(state, incoming)

    def answered(self, receipts: Sequence[str]) -> Answered:
        """Which of these channel messages a committed turn answered already (a replay after a crash)."""
        return self.store.answered(receipts)

    def _due(self, state: ConversationState, now: datetime) -> str:
        return self.due_at(state, now) if self.due_at else ""

    def _handoff_expired(self, state: ConversationState, now: datetime) -> bool:
        if not state.handoff_since:
            return False
        return now - datetime.fromisoformat(state.handoff_since) > self.handoff_timeout

    async def _after_commit(self, address: Address, turn: _Turn) -> None:
        if any(isinstance(effect, StoreLead) for effect in turn.effects):
            await self.deliver_leads()  # the CSV row before the alert that points to it
        if any(isinstance(effect, ForgetPersonalData) for effect in turn.effects):
            log.info("данные %s удалены по просьбе пациента", mask_key(address.key))
        await self.alerts.post(turn.alerts, wait=ALERT_WAIT)

    def _conversation_rows(self, address: Address) -> list[str]:
        """Every row this conversation has, confirmed or not: a withdrawn consent takes the personal data
        out of all of them (152-FZ: the data is processed no longer than the consent lasts)."""
        return [lead.id for lead in self.store.conversation_leads(address.key)]

    async def _consent_withdrawn(
        self, address: Address, state: ConversationState, forgotten: list[Lead]
    ) -> None:
        """The patient withdrew consent. Every row of the conversation was stripped of the personal data in
        the same commit (the sinks follow through the outbox); the administrators' alerts about them are
        cleared and the administrators are told, confirmed leads named apart."""
        if forgotten:
            await self.deliver_leads()
        cleared = await self.notifier.forget(address.key, [lead.id for lead in forgotten])
        if cleared:
            log.info(
                "согласие отозвано в %s: убрано оповещений администраторам: %d",
                mask_key(address.key),
                cleared,
            )
        ids = [lead.id for lead in forgotten]
        notice = withdrawal_notice(address.channel, ids, [i for i in ids if i in state.leads])
        if notice:
            log.info("согласие отозвано в %s: обезличено строк: %d", mask_key(address.key), len(forgotten))
            await self.notifier.warn(notice)

    async def deliver_leads(self) -> None:
        """Push the outbox now (the local CSV at once; slow sinks are woken in the background)."""
        if self.flusher is None:
            return
        try:
            if "csv" in self.flusher.sinks:
                await self.flusher.flush_sink("csv")
            self.flusher.wakeup.set()
        except Exception:  # the lead is safe in the local record; the flusher retries later
            log.exception("заявки не отправлены; они ждут в очереди")

    # --- the administrators' side -------------------------------------------------------------

    async def admin_reply(self, conversation_key: str, messages: list[Outgoing]) -> bool:
        """An administrator's answer to a handed-off patient, sent in the patient's channel."""
        stored = self.store.find(conversation_key)
        if stored is None:
            return False
        address = stored.address

        async def take_over() -> None:
            state = self.store.load(address)
            for message in messages:
                state.remember("admin", message.text)
            state.handoff_noted_at = "admin"  # someone answers now: no more "the administrator will answer"
            if state.stage != Stage.HANDOFF:
                state.stage = Stage.HANDOFF
                state.handoff_since = iso(self.clock.now())
            self.store.save(address, state, iso(self.clock.now()), due_at="")

        async with self._locks[conversation_key]:
            await retry_stale(conversation_key, take_over)
        return await self.messengers.send(address, messages)

    async def hand_back(self, conversation_key: str, text: str | None = None) -> bool:
        """«Вернуть боту»: the bot answers this patient again."""
        stored = self.store.find(conversation_key)
        if stored is None:
            return False
        address = stored.address

        async def give_back() -> None:
            state = self.store.load(address)
            state.stage = Stage.BOOKING if (state.booking.specialty or state.booking.doctor) else Stage.IDLE
            state.handoff_since = ""
            now = self.clock.now()
            self.store.save(address, state, iso(now), due_at=self._due(state, now))

        async with self._locks[conversation_key]:
            await retry_stale(conversation_key, give_back)
        if text:
            await self.messengers.send(address, [Outgoing(text)])
        return True

    async def set_status(self, lead_id: str, status: str, by: str) -> Lead | None:
        """An administrator set a lead's status: the local record first, then every sink."""
        lead = self.store.set_status(lead_id, status, by, iso(self.clock.now()))
        if lead is not None:
            await self.deliver_leads()
        return lead
