"""Telegram updates as the core's messages: who wrote (`Address`) and what (`Incoming`)."""

from __future__ import annotations

from aiogram.types import Chat, Message, User

from bot.dialogue.messages import Address, Incoming

__all__ = ["CHANNEL", "UNSUPPORTED_KINDS", "address_of", "contact_of", "incoming_of", "merge"]

CHANNEL = "telegram"
# Message fields the bot cannot read yet, in the order they are checked, as the core's `unsupported` names.
UNSUPPORTED_KINDS = (
    "voice",
    "video_note",
    "audio",
    "video",
    "photo",
    "sticker",
    "animation",
    "document",
    "location",
    "venue",
    "poll",
    "dice",
    "story",
)


def contact_of(chat: Chat, user: User | None) -> str:
    """The lead's `Контакт`: @username when there is one, else the chat id."""
    username = (user.username if user else None) or chat.username
    return f"@{username}" if username else str(chat.id)


def address_of(chat: Chat, user: User | None) -> Address:
    return Address(CHANNEL, str(chat.id), contact_of(chat, user))


def incoming_of(message: Message) -> Incoming:
    """Text, a shared contact's phone, or the kind of media the bot cannot read; a caption counts as text."""
    profile = message.from_user.first_name if message.from_user else None
    if message.contact is not None:
        phone = message.contact.phone_number
        if phone and not phone.startswith("+"):
            phone = "+" + phone  # Telegram sends contacts without the plus
        return Incoming(text=phone, contact_phone=phone, profile_name=profile)
    if message.text is not None:
        return Incoming(text=message.text, profile_name=profile)
    kind = next((k for k in UNSUPPORTED_KINDS if getattr(message, k, None)), "message")
    return Incoming(text=message.caption or "", unsupported=kind, profile_name=profile)


def merge(parts: list[Incoming]) -> Incoming:
    """Several quick messages of one chat as one: texts joined in order; a contact or media kept."""
    if len(parts) == 1:
        return parts[0]
    texts = [p.text.strip() for p in parts if p.text.strip()]
    phone = next((p.contact_phone for p in reversed(parts) if p.contact_phone), None)
    unsupported = next((p.unsupported for p in parts if p.unsupported), None) if not texts else None
    profile = next((p.profile_name for p in parts if p.profile_name), None)
    receipts = tuple(r for p in parts for r in p.receipts)
    return Incoming(
        text="\n".join(texts),
        contact_phone=phone,
        unsupported=unsupported,
        profile_name=profile,
        receipts=receipts,
    )
