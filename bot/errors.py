"""One root for the errors the service raises on purpose, each with a message a person can act on."""


class BotError(Exception):
    """Root of every deliberate error of the service."""


class ConfigError(BotError):
    """A setting is missing or wrong; the message names it and how to fix it."""


class KnowledgeError(BotError):
    """The operator's knowledge files cannot be used; the message names the file and line."""


class StorageError(BotError):
    """The local record (DATA_DIR) cannot be written or read."""


class StaleState(StorageError):
    """A conversation was saved by another process since this one read it; nothing of the save was written.

    The caller reads the conversation again and decides again (see `bot.service.retry_stale`)."""


class SinkError(BotError):
    """A lead sink refused or failed a write."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable
