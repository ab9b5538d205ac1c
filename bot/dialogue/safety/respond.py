"""What the bot does when a message shows emergency signs: 103/112 at once, no booking pushed, admins told.

Runs first on every message (`DialogueCore.decide`), whatever the engine understood. Pure: it only changes
the conversation state and the step.
"""

from __future__ import annotations

from bot.dialogue.messages import HandoffRequested, Step
from bot.dialogue.safety.detect import Finding, asks_if_safe, detect, mentions_symptoms
from bot.dialogue.state import ConversationState, Stage
from bot.engine.port import Intent, Understanding
from bot.knowledge.models import Knowledge, SafetyInfo
from bot.knowledge.safety import CATEGORIES, DEFAULT_SAFETY

__all__ = ["safety_first", "urgent_comment"]

_EARLIER = 3  # patient messages before this one read together with it («болит живот» ... «и ещё рвёт»)


def _info(knowledge: Knowledge) -> SafetyInfo:
    return knowledge.safety if knowledge.safety.texts else DEFAULT_SAFETY


def _finding(state: ConversationState, text: str, flagged: bool) -> tuple[Finding | None, bool, list[str]]:
    """The emergency to answer now (if any), whether the patient asks if it is safe, the earlier messages."""
    said = [line[1] for line in state.history if line[0] == "patient"]
    earlier = said[:-1][-_EARLIER:] if said and said[-1] == text else said[-_EARLIER:]
    asks = asks_if_safe(text)
    current = detect(text)
    if current is not None and not current.soft:
        return current, asks, earlier
    if earlier:
        together = detect(" . ".join([*earlier, text]))
        # Once advised, the advice is repeated when the patient asks if it is safe or tells more symptoms.
        again = asks or mentions_symptoms(text)
        if together is not None and not together.soft and (not state.safety or again):
            return together, asks, earlier
    if asks and state.safety:  # «а это не опасно? может подождать до завтра?» after the advice
        return Finding(state.safety), asks, earlier
    if flagged and not state.safety:  # the LLM engine saw an emergency the words above did not show
        return Finding("other"), asks, earlier
    return current, asks, earlier


def safety_first(
    state: ConversationState, step: Step, text: str, u: Understanding, knowledge: Knowledge
) -> bool:
    """Answer emergency signs in `text` (or in the last few messages with it); True when the turn is done.

    Whatever the engine understood; its emergency flag (the LLM's) counts too. A sign told as history («был
    обморок год назад») only adds a line of advice and lets the conversation go on (False). After the advice
    the booking waits: «хорошо, вызвали» is not answered with the next booking question.
    """
    flagged = u.has(Intent.EMERGENCY)
    if not text and not flagged:
        return False
    info = _info(knowledge)
    finding, asks, earlier = _finding(state, text, flagged)
    if finding is None:
        if asks and (mentions_symptoms(text) or any(mentions_symptoms(e) for e in earlier)):
            step.say(info.text("question").format(**_numbers(info)))
            return True
        if state.safety_hold:
            state.safety_hold = False  # said once; after it the conversation goes on as the patient leads
            if not _moves_on(u):
                key = "hold_suicide" if state.safety == "suicide" else "hold"
                line = info.crisis_lines[0][0] if info.crisis_lines else info.emergency
                step.say(info.text(key).format(line=line, **_numbers(info)))
                return True
        return False
    if finding.soft:
        step.answer(info.text("caution" if finding.caution else "soft").format(**_numbers(info)))
        return False
    _advise(state, step, finding.category, info)
    return True


def _moves_on(u: Understanding) -> bool:
    """The patient writes about the booking or asks something: not a mere «хорошо», «вызвали», «спасибо»."""
    wants = (Intent.BOOKING, Intent.QUESTION, Intent.HANDOFF, Intent.RESTART, Intent.WITHDRAW_CONSENT)
    return bool(u.has_booking_facts or u.faq or any(u.has(i) for i in wants))


def _numbers(info: SafetyInfo) -> dict[str, str]:
    return {"ambulance": info.ambulance, "emergency": info.emergency}


def _lines(info: SafetyInfo, sep: str = "\n") -> str:
    return sep.join(f"{phone} — {name}" if name else phone for phone, name in info.crisis_lines)


def _advise(state: ConversationState, step: Step, category: str, info: SafetyInfo) -> None:
    values = _numbers(info)
    if category == "suicide":
        step.say(info.text("suicide").format(lines=_lines(info), **values))
    else:
        step.say(info.text("urgent").format(advice=info.advice_for(category), **values).strip())
        if state.stage in (Stage.BOOKING, Stage.CONFIRM):
            step.say(info.text("after"))
    first_time = state.safety != category
    state.safety = category
    state.safety_hold = True
    state.booking.urgent = CATEGORIES.get(category, CATEGORIES["other"])
    state.followup_sent = True  # no "вы не закончили запись" reminder after this
    if first_time:
        # The patient's words go in `recent` (shown in the admin chat), not in the reason (also logged).
        key = "alert_suicide" if category == "suicide" else "alert"
        reason = info.text(key).format(label=state.booking.urgent, **values)
        if state.leads:
            reason += f" Заявка {state.leads[-1]} уже у вас."
        recent = tuple(
            f"{'Пациент' if who == 'patient' else 'Бот'}: {said}" for who, said in state.history[-10:]
        )
        step.effects.append(HandoffRequested(reason=reason, recent=recent, urgent=True))


def urgent_comment(state: ConversationState, comment: str, knowledge: Knowledge) -> str:
    """The lead's `Комментарий`, with «срочно» first when emergency signs came up in this request."""
    if not state.booking.urgent:
        return comment
    tag = _info(knowledge).text("comment") or "срочно"
    return f"{tag}: {comment or state.booking.urgent}"
