"""The one place the application is assembled from settings: adapters chosen, dependencies passed in."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.dialogue.core import DialogueCore
from bot.dialogue.texts import Texts
from bot.engine.offline import OfflineEngine
from bot.engine.port import Engine
from bot.errors import StorageError
from bot.knowledge.provider import KnowledgeProvider
from bot.notify import AdminNotifier, LogNotifier, MessengerRegistry
from bot.prompts import load_texts
from bot.scheduler import TimerRules
from bot.service import ConversationService
from bot.storage.db import Database
from bot.storage.health import check_data_dir
from bot.storage.state_store import StateStore
from sheets.csv_sink import CsvLeadSink
from sheets.outbox import Outbox, OutboxFlusher
from sheets.port import LeadSink


@dataclass
class App:
    settings: Settings
    clock: Clock
    db: Database
    store: StateStore
    outbox: Outbox
    sinks: dict[str, LeadSink]
    flusher: OutboxFlusher
    knowledge: KnowledgeProvider
    texts: Texts
    engine: Engine
    core: DialogueCore
    notifier: AdminNotifier
    messengers: MessengerRegistry
    service: ConversationService
    extras: dict[str, object] = field(default_factory=dict)
    offline: OfflineEngine | None = None

    def warm_up(self) -> None:
        """Build what the first message would otherwise wait for (the knowledge indexes)."""
        if self.offline is not None:
            self.offline.indexes()

    def close(self) -> None:
        self.db.close()


def build_sinks(settings: Settings) -> dict[str, LeadSink]:
    """The local CSV always (the fallback view); the Google Sheet when configured."""
    sinks: dict[str, LeadSink] = {"csv": CsvLeadSink(settings.leads_csv)}
    if settings.sheets_enabled:
        from sheets.google import build_google_sink

        sinks["sheets"] = build_google_sink(settings)
    return sinks


def build_engine(settings: Settings, knowledge: KnowledgeProvider, offline: OfflineEngine) -> Engine:
    if settings.llm_enabled:
        from bot.engine.llm import build_llm_engine

        return build_llm_engine(settings, knowledge, offline)
    return offline


def build_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    notifier: AdminNotifier | None = None,
    sinks: dict[str, LeadSink] | None = None,
) -> App:
    clock = clock or SystemClock()
    usable, problem = check_data_dir(settings.data_dir)
    if not usable:  # a read-only or full DATA_DIR would lose leads silently: refuse to start
        raise StorageError(problem)
    db = Database(settings.state_db)
    sinks = sinks if sinks is not None else build_sinks(settings)
    outbox = Outbox(db, list(sinks))
    store = StateStore(db, outbox)
    sheet_doctors = sinks.get("sheets")
    knowledge = KnowledgeProvider(
        settings.knowledge_dir,
        getattr(sheet_doctors, "read_doctors", None),
    )
    texts = load_texts(settings.prompts_dir)
    offline = OfflineEngine(knowledge)
    engine = build_engine(settings, knowledge, offline)
    core = DialogueCore(texts, tz=settings.tz)
    notifier = notifier or LogNotifier()
    messengers = MessengerRegistry()
    flusher = OutboxFlusher(outbox, sinks, clock, on_parked=notifier.warn)
    service = ConversationService(
        store=store,
        engine=engine,
        core=core,
        knowledge=knowledge,
        notifier=notifier,
        clock=clock,
        flusher=flusher,
        messengers=messengers,
        handoff_timeout=settings.handoff_timeout,
        due_at=TimerRules.from_settings(settings).due_at,
    )
    return App(
        settings,
        clock,
        db,
        store,
        outbox,
        sinks,
        flusher,
        knowledge,
        texts,
        engine,
        core,
        notifier,
        messengers,
        service,
        offline=offline,
    )
