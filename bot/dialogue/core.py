"""The dialogue core: given the state, one message and what the engine understood, decide the next step.

Pure: no I/O, no clock of its own (the time is passed in), no randomness that matters. The same rules for
every channel and every engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.dialogue.amend import amend_confirmed
from bot.dialogue.asking import MAX_CHOICES, Asking, format_phone, service_label
from bot.dialogue.buttons import FIX_FIELDS, doctor_button, specialty_button
from bot.dialogue.extract.intents import (
    ACK,
    AGREE,
    CALLBACK,
    CANCEL,
    ENOUGH,
    HELP,
    LATER,
    NO_NAME,
    RESCHEDULE,
    hedged_yes,
)
from bot.dialogue.flow import (
    does_not_know,
    english_sentence,
    repeated_name,
    unknown_question,
)
from bot.dialogue.language import fold, has_cyrillic, has_letters
from bot.dialogue.lead_notes import compose_comment, day_note
from bot.dialogue.messages import (
    Address,
    Button,
    ForgetPersonalData,
    HandoffRequested,
    Incoming,
    RelayToAdmins,
    Step,
    StoreLead,
)
from bot.dialogue.safety.respond import safety_first, urgent_comment
from bot.dialogue.state import Consent, ConversationState, Slot, Stage
from bot.dialogue.texts import Texts
from bot.engine.port import Intent, Understanding
from bot.knowledge.models import ClinicFacts, Knowledge
from sheets.schema import Lead, Status, Visit, new_lead_id

_WEEKDAY_ACC = (
    "в понедельник",
    "во вторник",
    "в среду",
    "в четверг",
    "в пятницу",
    "в субботу",
    "в воскресенье",
)
HANDOFF_NOTE_EVERY = timedelta(minutes=30)


def clinic_open(clinic: ClinicFacts, moment: datetime) -> bool:
    hours = clinic.hours.open_on(moment.weekday())
    return hours is not None and hours[0] <= moment.time() < hours[1]


def next_opening(clinic: ClinicFacts, moment: datetime) -> str:
    """When the administrators are next at work, in words: "сегодня с 08:00", "завтра с 09:00", "в понедельник с 08:00"."""
    for offset in range(8):
        day = moment + timedelta(days=offset)
        hours = clinic.hours.open_on(day.weekday())
        if hours is None or (offset == 0 and moment.time() >= hours[0]):
            continue
        start = hours[0].strftime("%H:%M")
        if offset == 0:
            return f"сегодня с {start}"
        if offset == 1:
            return f"завтра с {start}"
        return f"{_WEEKDAY_ACC[day.weekday()]} с {start}"
    return "в рабочее время"


def lead_of(
    state: ConversationState,
    address: Address,
    local: datetime,
    knowledge: Knowledge,
    lead_id: str,
    status: str,
) -> Lead:
    """The row of this conversation's request as it stands (`local`: clinic time of the row)."""
    b = state.booking
    return Lead(
        id=lead_id,
        created=local.strftime("%Y-%m-%d %H:%M"),
        name=b.name,
        phone=b.phone,
        service=service_label(state, knowledge),
        window=b.window,
        visit=b.visit,
        channel=address.channel,
        contact=address.contact or address.user_id,
        comment=urgent_comment(state, compose_comment(b), knowledge),
        status=status,
    )


def keep_service(state: ConversationState, u: Understanding, knowledge: Knowledge) -> None:
    """The doctor or specialty named with emergency signs or a safety question is kept (not asked for), so
    that «да, запишите» after the advice books it."""
    b = state.booking
    if b.doctor or b.specialty:
        return
    doctors = [d for d in knowledge.doctors if d.full_name in u.doctors]
    if len(doctors) == 1:
        b.doctor, b.specialty = doctors[0].full_name, doctors[0].specialty
    elif u.specialty and u.specialty in knowledge.specialties:
        b.specialty = u.specialty
    else:
        state.offered = [s for s in u.specialty_options if s in knowledge.specialties]
    if u.comment and not b.comment:
        b.comment = u.comment[:200]


class DialogueCore(Asking):
    """The rules of the conversation (DESIGN.md, "Conversation rules")."""

    def __init__(
        self,
        texts: Texts,
        tz: ZoneInfo,
        new_id: Callable[[], str] = new_lead_id,
    ) -> None:
        self.texts = texts
        self.tz = tz
        self.new_id = new_id

    # ------------------------------------------------------------------ entry point

    def decide(
        self,
        state: ConversationState,
        incoming: Incoming,
        u: Understanding,
        address: Address,
        now: datetime,
        knowledge: Knowledge,
    ) -> Step:
        step = Step()
        text = incoming.text.strip()
        state.remember("patient", text or (f"[{incoming.unsupported}]" if incoming.unsupported else ""))
        first_contact = not state.greeted
        state.greeted = True
        just_done = state.awaiting == Slot.MORE  # the bot has just said "Заявка принята"
        if just_done:
            state.awaiting = ""
        state.closed = False
        if incoming.profile_name and not state.profile_name:
            state.profile_name = incoming.profile_name[:60]
        local = now.astimezone(self.tz)

        if safety_first(state, step, text, u, knowledge):  # before anything else
            keep_service(state, u, knowledge)  # a booking after the advice resumes with it
            return self._record(state, step)
        if u.has(Intent.RESTART) and not u.has(Intent.HANDOFF):  # "можно сначала с администратором?"
            state.reset_booking()
            step.say(self.texts.get("restart"), self._specialty_buttons(knowledge))
            state.awaiting = Slot.SERVICE
            return self._record(state, step)
        for_a_person = u.has(Intent.HANDOFF) or (u.has(RESCHEDULE) and state.stage == Stage.IDLE)
        if for_a_person and first_contact and u.has(Intent.GREETING):  # "Здравствуйте, позовите человека"
            step.prefix = self.texts.get("hello_prefix")
        if u.has(Intent.HANDOFF):
            return self._handoff(state, step, text, address, knowledge, local, now)
        if u.has(RESCHEDULE) and state.stage == Stage.IDLE:
            # Moving or cancelling an appointment is done in the clinic's system: the administrators' work.
            if self.texts.has("reschedule"):
                step.say(self.texts.get("reschedule", phone=knowledge.clinic.phone))
            return self._handoff(
                state, step, f"перенос или отмена записи: {text}", address, knowledge, local, now
            )
        if u.has(HELP) and not u.has_booking_facts:
            step.say(self.texts.get("help"), self._help_buttons())
            if state.stage in (Stage.BOOKING, Stage.CONFIRM):
                self._ask_next(state, step, knowledge, now.astimezone(self.tz), repeat=False)
            return self._record(state, step)
        if u.has(CALLBACK) and not u.has_booking_facts and not u.has(Intent.YES):
            local = now.astimezone(self.tz)
            step.say(self._callback_when(state, knowledge, local))
            if state.stage in (Stage.BOOKING, Stage.CONFIRM):
                self._ask_next(state, step, knowledge, local, repeat=False)
            return self._record(state, step)
        if u.has(Intent.WITHDRAW_CONSENT):
            return self._decline(state, step, now, self.texts.get("consent_withdrawn"))
        if u.has(CANCEL) and state.stage in (Stage.BOOKING, Stage.CONFIRM) and not u.has_booking_facts:
            # "не надо, передумал", "отмените запись" before the summary was confirmed: nothing is sent
            state.reset_booking()
            state.next_specialty = ""
            state.closed = True
            step.say(self.texts.get("booking_cancelled"))
            return self._record(state, step)
        if state.stage == Stage.IDLE and state.last_lead:
            amended = amend_confirmed(self, state, step, u, knowledge, local)
            if amended is not None:
                return self._record(state, amended)

        if "more_specialties" in u.extra:  # «Другие специальности»: the next page of the menu
            page = u.extra["more_specialties"]
            step.say(
                self.texts.get("other_specialties"),
                self._specialty_buttons(knowledge, int(page) if page.isdigit() else 1),
            )
            if not (state.booking.doctor or state.booking.specialty):
                state.awaiting = Slot.SERVICE
            return self._record(state, step)
        if english_sentence(text, u):
            step.say(self.texts.get("english", phone=knowledge.clinic.phone))
            if state.stage in (Stage.BOOKING, Stage.CONFIRM):
                self._ask_next(state, step, knowledge, local, repeat=False)
            return self._record(state, step)

        if not self._readable(incoming, text, u):
            if first_contact and not incoming.unsupported and not self._foreign(text):
                # "👋" or "?" as the very first message is a hello: greet rather than "не поняла"
                step.say(
                    self.texts.get("greeting", clinic=knowledge.clinic.name),
                    self._specialty_buttons(knowledge),
                )
                state.awaiting = Slot.SERVICE
                return self._record(state, step)
            key = (
                "no_text"
                if incoming.unsupported
                else ("foreign" if self._foreign(text) else "not_understood")
            )
            step.say(self.texts.get(key, phone=knowledge.clinic.phone))
            if state.stage in (Stage.BOOKING, Stage.CONFIRM):
                self._ask_next(state, step, knowledge, local, repeat=True)
            return self._record(state, step)

        # A question in the first message is answered (or honestly not), not swallowed by the greeting.
        asks_unknown = u.faq_guess and not u.has(Intent.BOOKING)
        greet = first_contact and not u.has_booking_facts and not u.faq and not u.reply and not asks_unknown
        if first_contact and not greet:
            step.prefix = self.texts.get("hello_prefix")

        if (
            u.has(AGREE)
            and state.stage == Stage.IDLE
            and state.declined_service
            and not state.consent.given_at
        ):
            # "ну ладно, согласен" after a refusal: a change of mind, and the booking goes on with that doctor
            state.booking.doctor, state.booking.specialty = state.declined_service
            state.declined_service = []
            state.stage, state.awaiting = Stage.BOOKING, Slot.CONSENT
        # Consent: asked once, before the contacts; a refusal keeps nothing personal.
        if state.awaiting == Slot.CONSENT and not state.consent.given_at:
            if u.has(Intent.YES) and not self._yes_to_something_else(text, u):
                state.consent = Consent(
                    given_at=now.astimezone(UTC).isoformat(timespec="seconds"),
                    version=knowledge.clinic.consent_version,
                )
            elif u.has(Intent.NO) and not u.has_booking_facts:
                return self._decline(
                    state, step, now, self.texts.get("consent_declined", phone=knowledge.clinic.phone)
                )

        if state.awaiting == Slot.CONFIRM:
            if u.has(Intent.YES) and not u.has_booking_facts:
                return self._confirm(state, step, address, local, knowledge)
            if (
                (u.has(Intent.NO) or u.has(Intent.CORRECTION))
                and not u.has_booking_facts
                and "fix" not in u.extra
            ):
                step.say(self.texts.get("ask_correction"), self._fix_buttons())
                state.awaiting = Slot.CORRECTION
                return self._record(state, step)

        if "fix" in u.extra:
            return self._start_fix(state, step, u.extra["fix"], knowledge)
        if self._leaving_mid_booking(state, u):
            state.closed = True  # the booking is kept for a return, but no reminder follows a goodbye
            step.say(self.texts.get("goodbye"))
            return self._record(state, step)
        if u.has(LATER) and state.stage in (Stage.BOOKING, Stage.CONFIRM) and not u.has_booking_facts:
            # "я подумаю": no pressing; what was said is kept, and the one gentle reminder may still follow
            step.say(self.texts.get("later"))
            return self._record(state, step)

        was_idle = state.stage == Stage.IDLE
        awaiting_before = state.awaiting
        if "doctors_list" in u.extra and not u.specialty:
            step.say(
                self.texts.get("doctors_list", specialties=", ".join(knowledge.specialties)),
                self._specialty_buttons(knowledge),
            )
            if not (state.booking.doctor or state.booking.specialty):
                state.awaiting = Slot.SERVICE
            return self._record(state, step)
        listed = False
        if self._only_asks(state, u):
            # "а детей принимаете?", "как готовиться к УЗИ?", "есть ли у вас узи?" in the middle of a booking:
            # a question answered from the FAQ or the doctors list, not a new doctor; the chosen one stays.
            listed = self._list_doctors(step, u, knowledge)
            u = replace(
                u,
                doctors=(),
                specialty=None,
                specialty_options=(),
                unknown_doctor=None,
                comment=None,
                extra={},
            )
        agreed_to_offer = False
        yes = u.has(Intent.YES) or u.has(ACK)
        if state.offered and state.awaiting == Slot.SERVICE and yes and not (u.has_booking_facts or u.faq):
            # «ну давайте» to the offer: the one offered is taken, or the same choice asked again
            agreed_to_offer = True
            yes_count = state.asked.get("offer_agreed", 0) + 1
            state.asked["offer_agreed"] = yes_count
            if len(state.offered) == 1 or yes_count > 1:
                # one offered, or «да» again to the same choice: the first (the therapist when there)
                first = [s for s in state.offered if fold(s) == "терапевт"] or state.offered
                u = replace(u, specialty=first[0])
        skipped = state.booking.skipped
        if state.awaiting == Slot.VISIT and not u.has_booking_facts and does_not_know(text):
            state.booking.skip("visit")  # "не помню, был ли": the administrator will see in the records
            step.note(self.texts.get("visit_skipped"))
            u = replace(u, intents=u.intents - {Intent.QUESTION, Intent.NO}, faq=(), faq_guess=False)
        if state.awaiting == Slot.NAME and not u.name and not u.has_booking_facts:
            if u.has(NO_NAME):  # "можно без имени?": the name is not required
                state.booking.skip("name")
                step.note(self.texts.get("name_skipped"))
                u = replace(u, intents=u.intents - {Intent.QUESTION}, faq=(), faq_guess=False)
            elif name := repeated_name(state, text):  # a rare name typed again is the name
                u = replace(u, name=name)
        notes_said = self._apply_facts(state, step, u, knowledge, local)
        answered = (
            listed
            or self._list_doctors(step, u, knowledge)
            or self._answer_question(state, step, u, knowledge)
        )
        if "schedule" in u.extra and not answered:
            # The doctors' days and free slots are the administrators' (the clinic's system), not the bot's.
            step.answer(self.texts.get("schedule_unknown", phone=knowledge.clinic.phone))
            answered = True
        if not answered and state.stage in (Stage.BOOKING, Stage.CONFIRM) and unknown_question(text, u):
            # Not in the knowledge: said so, the administrator offered, and the booking goes on.
            step.answer(self.texts.get("dont_know_booking", phone=knowledge.clinic.phone))
            answered = True
        unplaced = self._unplaced_request(state, step, u, knowledge, answered=answered, said=notes_said)
        if unplaced:
            if first_contact:
                step.prefix = self.texts.get("hello_prefix")
            return self._record(state, step)
        only_asks = u.has(Intent.QUESTION) and not u.has_booking_facts  # "какие документы нужны на приём?"
        if was_idle and answered and not (u.name or u.phone) and (not u.has(Intent.BOOKING) or only_asks):
            # A question that merely mentions a service ("сколько стоит УЗИ?") is answered, and booking offered.
            step.notes.clear()  # not "Хорошо, запишу вас" before "Хотите, я запишу вас?"
            service = service_label(state, knowledge)
            if service:
                step.say(self.texts.get("offer_booking", service=service), self._help_buttons())
            return self._record(state, step)
        b = state.booking
        offered = (  # "да" to "Хотите, я запишу вас? Направление: Кардиолог"
            was_idle and (b.doctor or b.specialty) and u.has(Intent.YES) and not answered and not greet
        )
        if (u.has_booking_facts or u.has(Intent.BOOKING) or offered) and state.stage == Stage.IDLE:
            state.stage = Stage.BOOKING
            if (b.doctor or b.specialty) and not (u.doctors or u.specialty or step.notes or step.replies):
                # a service kept from before (the safety advice, an offer): said, not silently assumed
                step.note(self.texts.get("service_chosen", service=service_label(state, knowledge)))
        if greet and not answered:
            step.say(
                self.texts.get("greeting", clinic=knowledge.clinic.name), self._specialty_buttons(knowledge)
            )
            state.awaiting = Slot.SERVICE
            return self._record(state, step)

        if state.stage in (Stage.BOOKING, Stage.CONFIRM):
            if answered and not u.has_booking_facts and not was_idle:
                step.say(self.texts.get("resume"))
            if not notes_said:  # a note that already asked (which doctor, the phone again) is the question
                agreed = (
                    u.has(Intent.YES) and state.consent.given_at != "" and awaiting_before == Slot.CONSENT
                )
                understood = u.has_booking_facts or answered or agreed or offered or u.has(ACK)
                understood = understood or agreed_to_offer
                understood = understood or state.booking.skipped != skipped  # "без имени", "не помню"
                self._ask_next(state, step, knowledge, local, repeat=not understood and not greet)
            return self._record(state, step)

        if answered or greet:
            return self._record(state, step)
        done = just_done or bool(state.leads)
        if u.has(Intent.GOODBYE):
            state.closed = True
            step.say(self.texts.get("goodbye"))
        elif u.has(Intent.NO) or u.has(ENOUGH) or u.has(CANCEL):
            # "нет", "всё", "передумала": nothing more is wanted; an offered service is dropped
            b.doctor, b.specialty, b.comment = "", "", ""
            if done:
                state.closed = True
                step.say(self.texts.get("after_done_no", when=self._callback_in(knowledge, local)))
            else:
                step.say(self.texts.get("ok_no"))
        elif u.has(Intent.THANKS):
            step.say(self.texts.get("thanks"))
        elif (u.has(Intent.YES) or u.has(ACK)) and done:
            # "да, верно", "ок", "жду звонка" after "Заявка принята"
            step.say(self.texts.get("after_done_ok", when=self._callback_in(knowledge, local)))
        elif u.has(Intent.YES) or u.has(ACK):
            step.say(
                self.texts.get("ok_no") if u.has(ACK) else self.texts.get("ask_service"),
                () if u.has(ACK) else self._specialty_buttons(knowledge),
            )
            state.awaiting = "" if u.has(ACK) else Slot.SERVICE
        elif u.has(Intent.GREETING) and not first_contact:
            step.say(self.texts.get("ask_service"), self._specialty_buttons(knowledge))
            state.awaiting = Slot.SERVICE
        elif u.faq_guess or u.has(Intent.QUESTION):
            step.say(self.texts.get("dont_know"), self._help_buttons())
        elif state.awaiting == Slot.SERVICE and does_not_know(text):
            # "не знаю, к кому": the therapist first, and the administrator
            step.say(self.texts.get("ask_service_last"), self._therapist_first(knowledge))
        elif not first_contact:
            step.say(self.texts.get("not_understood"), self._help_buttons())
        return self._record(state, step)

    # ------------------------------------------------------------------ pieces

    @staticmethod
    def _leaving_mid_booking(state: ConversationState, u: Understanding) -> bool:
        """«До свидания» in the middle of a booking, with nothing else said."""
        return (
            u.has(Intent.GOODBYE)
            and state.stage in (Stage.BOOKING, Stage.CONFIRM)
            and not (
                u.has_booking_facts
                or u.faq
                or u.reply
                or (u.has(Intent.YES) and state.awaiting in (Slot.CONFIRM, Slot.CONSENT))
            )
        )

    @staticmethod
    def _yes_to_something_else(text: str, u: Understanding) -> bool:
        """ "ладно, к любому неврологу", "ладно, тогда суббота": the «ладно» goes with the doctor or the day,
        it is not the consent to process the name and phone."""
        about_else = u.doctors or u.specialty or u.unknown_doctor or u.window or "day" in u.extra
        return bool(about_else) and hedged_yes(text)

    @staticmethod
    def _only_asks(state: ConversationState, u: Understanding) -> bool:
        """A question answered from the FAQ mid-booking that merely names a service or specialty."""
        return (
            state.stage in (Stage.BOOKING, Stage.CONFIRM)
            and bool(state.booking.doctor or state.booking.specialty)
            and (bool(u.faq) or u.extra.get("doctors_list") == "have")
            and u.has(Intent.QUESTION)
            and not (u.has(Intent.BOOKING) or u.has(Intent.CORRECTION))
            and not (u.name or u.phone or u.window or u.visit)
        )

    def during_handoff(
        self, state: ConversationState, incoming: Incoming, knowledge: Knowledge, now: datetime | None = None
    ) -> Step:
        """A message while an administrator has the conversation: relayed to them, and the bot says
        nothing, except the advice at once when it shows emergency signs (nobody may be reading yet), and,
        while no administrator has answered, when to expect one (at most every HANDOFF_NOTE_EVERY)."""
        step = Step()
        text = incoming.text.strip()
        state.remember("patient", text or incoming.button or "")
        step.effects.append(RelayToAdmins(incoming.text or f"[{incoming.unsupported or 'сообщение'}]"))
        if text:
            safety_first(state, step, text, Understanding(), knowledge)
            state.safety_hold = False  # the administrators have the conversation: no closing line of ours
        waiting = self.handoff_waiting(state, knowledge, now) if now is not None and not step.replies else ""
        if waiting:
            step.say(waiting)
        for reply in step.replies:
            state.remember("bot", reply.text)
        return step

    def _record(self, state: ConversationState, step: Step) -> Step:
        step.finish()
        for reply in step.replies:
            state.remember("bot", reply.text)
        state.misunderstood = 0 if step.effects else state.misunderstood
        return step

    def handoff_waiting(self, state: ConversationState, knowledge: Knowledge, now: datetime) -> str:
        """What a handed-off patient who writes again hears while no administrator has answered: when to
        expect one (at most every HANDOFF_NOTE_EVERY; '' otherwise)."""
        if state.handoff_noted_at == "admin":
            return ""  # an administrator is talking to the patient
        if state.handoff_noted_at:
            last = datetime.fromisoformat(state.handoff_noted_at)
            if now - last < HANDOFF_NOTE_EVERY:
                return ""
        state.handoff_noted_at = now.astimezone(UTC).isoformat(timespec="seconds")
        clinic, local = knowledge.clinic, now.astimezone(self.tz)
        if clinic_open(clinic, local):
            return self.texts.get("handoff_waiting_open", phone=clinic.phone)
        return self.texts.get("handoff_waiting_closed", when=next_opening(clinic, local), phone=clinic.phone)

    @staticmethod
    def _readable(incoming: Incoming, text: str, u: Understanding) -> bool:
        if incoming.button is not None:
            return True
        if incoming.unsupported and not text:
            return False
        if u.intents or u.has_booking_facts or u.faq or u.reply or u.phone_problem:
            return True
        return bool(text) and has_letters(text) and not DialogueCore._foreign(text)

    @staticmethod
    def _foreign(text: str) -> bool:
        letters = [ch for ch in text if ch.isalpha()]
        return len(letters) >= 3 and not has_cyrillic(text)

    def _handoff(
        self,
        state: ConversationState,
        step: Step,
        text: str,
        address: Address,
        knowledge: Knowledge,
        local: datetime,
        now: datetime,
    ) -> Step:
        state.stage = Stage.HANDOFF
        state.handoff_since = now.astimezone(UTC).isoformat(timespec="milliseconds")
        state.handoff_noted_at = ""
        clinic = knowledge.clinic
        when = (
            self.texts.get("handoff_when_open")
            if clinic_open(clinic, local)
            else self.texts.get("handoff_when_closed", hours=clinic.hours_text or next_opening(clinic, local))
        )
        recent = tuple(
            f"{'Пациент' if who == 'patient' else 'Бот'}: {said}" for who, said in state.history[-10:]
        )
        reason = text or "пациент просит администратора"
        b = state.booking
        if state.consent.given_at and b.phone and (b.doctor or b.specialty):
            # What the patient already gave is not lost: the row, «не подтверждена», for the administrator.
            lead_id = state.lead_id or self.new_id()
            b.details["handoff"] = "yes"
            lead = lead_of(state, address, local, knowledge, lead_id, Status.UNCONFIRMED)
            step.effects.append(StoreLead(lead, update=bool(state.lead_id)))
            state.lead_id = lead_id
            state.unconfirmed_recorded = True
            state.unconfirmed_at = now.astimezone(UTC).isoformat(timespec="milliseconds")
            reason = f"{reason} (собранное записано в заявку {lead_id}, статус «не подтверждена»)"
        elif b.doctor or b.specialty:
            known = [service_label(state, knowledge), b.name if state.consent.given_at else ""]
            reason = f"{reason} (до передачи собрано: {', '.join(k for k in known if k)})"
        step.effects.append(HandoffRequested(reason=reason, recent=recent))
        step.say(self.texts.get("handoff", when=when))
        return self._record(state, step)

    def _decline(self, state: ConversationState, step: Step, now: datetime, reply: str) -> Step:
        """Consent refused or withdrawn: nothing personal is kept, no reminders follow."""
        service = [state.booking.doctor, state.booking.specialty]
        state.declined_service = service if any(service) else []
        state.forget_personal_data()
        state.reset_booking()
        state.booking = replace(state.booking, name="", phone="")
        state.consent = Consent(declined_at=now.astimezone(UTC).isoformat(timespec="seconds"))
        state.closed = True
        step.effects.append(ForgetPersonalData())
        step.say(reply)
        return self._record(state, step)

    def _apply_facts(
        self, state: ConversationState, step: Step, u: Understanding, knowledge: Knowledge, local: datetime
    ) -> bool:
        """Take every validated fact of the message; returns True when something had to be said about them."""
        b = state.booking
        said = False
        before = (b.doctor, b.specialty, b.name, b.phone, b.window, b.visit)
        by_name = {d.full_name: d for d in knowledge.doctors}
        doctors = [by_name[name] for name in u.doctors if name in by_name]
        not_meant = set(u.extra.get("not_doctors", "").split("|")) - {""}
        if b.doctor in not_meant and not doctors:
            # "нет, не к Петровой", "Кузнецова — это я": that doctor was never asked for
            dropped = by_name.get(b.doctor)
            step.note(self.texts.get("doctor_dropped", doctor=dropped.short_name if dropped else b.doctor))
            b.doctor = ""
            if not u.specialty:
                b.specialty = ""
        state.choices = [c for c in state.choices if c not in not_meant]
        if state.choices and doctors:
            narrowed = [d for d in doctors if d.full_name in state.choices]
            doctors = narrowed or doctors
        if len(doctors) == 1:
            b.doctor, b.specialty = doctors[0].full_name, doctors[0].specialty
            state.choices = []
        elif len(doctors) > 1:
            state.choices = [d.full_name for d in doctors][:MAX_CHOICES]
            b.doctor = ""
        elif u.specialty and u.specialty in knowledge.specialties:
            if b.doctor and by_name.get(b.doctor) and by_name[b.doctor].specialty != u.specialty:
                b.doctor = ""
            if not b.doctor:
                b.specialty = u.specialty
            state.choices = []
        elif u.specialty_options and not (b.doctor or b.specialty):
            options = [s for s in u.specialty_options if s in knowledge.specialties]
            if options:
                step.say(
                    self.texts.get("ask_specialty_choice", options=", ".join(options)),
                    tuple(specialty_button(s) for s in options),
                )
                state.offered = options
                state.awaiting = Slot.SERVICE
                said = True
        if b.doctor or b.specialty:
            state.offered = []
        missing = u.extra.get("missing_specialty")
        if missing and not doctors and not u.specialty:
            step.say(
                self.texts.get("missing_specialty", specialty=missing), self._specialty_buttons(knowledge)
            )
            state.awaiting = Slot.SERVICE
            said = True
        booked_instead = bool(b.specialty) and u.specialty == b.specialty
        if u.unknown_doctor and not doctors and booked_instead:
            # "к Гришину, невролог": the specialty is booked, and the patient hears there is no Гришин
            step.note(self.texts.get("unknown_doctor", surname=u.unknown_doctor))
        elif u.unknown_doctor and not doctors:
            suggestions = [by_name[n] for n in u.suggestions if n in by_name]
            namesake = [d for d in suggestions if _same_stem(d.surname, u.unknown_doctor)]
            if len(namesake) == 1 and self.texts.has("unknown_doctor_namesake"):
                # "к Кузнецовой" when only Кузнецов works here: that one is offered, nobody else
                label = self._doctor_label(namesake[0])
                state.choices = [namesake[0].full_name]
                step.say(
                    self.texts.get("unknown_doctor_namesake", surname=u.unknown_doctor, doctor=label),
                    (doctor_button(label, namesake[0].full_name),),
                )
                state.awaiting = Slot.DOCTOR_CHOICE
            else:
                step.say(self.texts.get("unknown_doctor", surname=u.unknown_doctor))
                if suggestions:
                    state.choices = [d.full_name for d in suggestions]
                    step.say(
                        self.texts.get(
                            "unknown_doctor_suggest", options=", ".join(d.display for d in suggestions)
                        ),
                        tuple(doctor_button(self._doctor_label(d), d.full_name) for d in suggestions),
                    )
                    state.awaiting = Slot.DOCTOR_CHOICE
                else:
                    step.say(self.texts.get("unknown_doctor_specialty"), self._specialty_buttons(knowledge))
                    state.awaiting = Slot.SERVICE
            said = True
        if u.comment:
            b.comment = u.comment[:200]
        if u.name:
            b.name = u.name
        if u.phone:
            b.phone = u.phone
            state.phone_attempts = 0
        elif u.phone_problem and (state.awaiting in (Slot.PHONE, Slot.CORRECTION) or not u.has_booking_facts):
            state.phone_attempts += 1
            key = "bad_phone_many" if state.phone_attempts >= 3 else "bad_phone"
            step.say(self.texts.get(key, reason=u.phone_problem, phone=knowledge.clinic.phone))
            state.awaiting = Slot.PHONE
            said = True
        if u.window:
            b.window = u.window
        if u.visit:
            b.visit = u.visit
        if state.awaiting != Slot.CONFIRM:
            self._acknowledge(step, before, state, knowledge)
        self.take_details(state, step, u, knowledge, local)
        also = u.extra.get("also", "")
        if also in knowledge.specialties and also != b.specialty and b.specialty and not doctors:
            state.next_specialty = also  # "к лору и к неврологу": the second request follows the first
            step.note(self.texts.get("second_booking_later", second=also))
        return said

    def take_details(
        self, state: ConversationState, step: Step, u: Understanding, knowledge: Knowledge, local: datetime
    ) -> None:
        """What the administrator needs for the comment; a day the clinic is closed is said at once."""
        details = state.booking.details
        for key in ("home", "bedridden", "urgent", "age", "phone2", "surname"):
            if u.extra.get(key):
                details[key] = u.extra[key]
        code = u.extra.get("day", "")
        if code:
            words, closed = day_note(code, local, knowledge.clinic)
            if words:
                details["day"] = words
            if closed:
                hours = knowledge.clinic.hours_text or "по будням"
                step.note(self.texts.get("closed_day", day=closed, hours=hours))

    def _acknowledge(
        self, step: Step, before: tuple[str, ...], state: ConversationState, knowledge: Knowledge
    ) -> None:
        """Say what was understood when it is not obvious: a service found from a complaint, a changed value."""
        b = state.booking
        old_doctor, old_specialty, old_name, old_phone, old_window, old_visit = before
        if (b.doctor, b.specialty) != (old_doctor, old_specialty) and (b.doctor or b.specialty):
            step.note(self.texts.get("service_chosen", service=service_label(state, knowledge)))
        changes = [
            (old_name, b.name, "имя"),
            (old_phone, format_phone(b.phone) if b.phone else "", "телефон"),
            (old_window, b.window, "время"),
            (old_visit, b.visit, "обращение"),
        ]
        for old, new, what in changes:
            if old and new and format_phone(old) != new and old != new:
                step.note(self.texts.get("changed", what=what, value=new))

    def _unplaced_request(
        self,
        state: ConversationState,
        step: Step,
        u: Understanding,
        knowledge: Knowledge,
        *,
        answered: bool,
        said: bool,
    ) -> bool:
        """A request no doctor of the list takes: laboratory tests go to an administrator; a complaint nothing
        fits gets the specialists to choose from (the therapist first). True when it was answered."""
        b = state.booking
        if b.doctor or b.specialty or state.choices or said:
            return False
        if "lab" in u.extra:
            if self.texts.has("lab_callback"):
                # The administrator books the tests: «да», the name and the phone make a callback request.
                b.specialty = self.texts.get("lab_service")
                b.comment = b.comment or (u.comment or "анализы")[:200]
                book = Button(self.texts.get("btn_lab_callback"), "book")
                step.answer(self.texts.get("lab_tests", phone=knowledge.clinic.phone))
                step.say(self.texts.get("lab_callback"), (book, *self._help_buttons()[1:]))
                return True
            step.say(self.texts.get("lab_tests", phone=knowledge.clinic.phone), self._help_buttons())
            return True
        settled = u.intents & {Intent.NO, Intent.YES, Intent.GOODBYE, Intent.THANKS, ENOUGH, CANCEL}
        if "complaint" in u.extra and not answered and not settled:
            therapist = [s for s in knowledge.specialties if fold(s) == "терапевт"]
            buttons = self._therapist_first(knowledge)
            hint = self.texts.get("therapist_hint") if therapist else ""
            step.say(f"{self.texts.get('unclear_complaint')} {hint}".strip(), buttons)
            state.awaiting = Slot.SERVICE
            return True
        return False

    def _list_doctors(self, step: Step, u: Understanding, knowledge: Knowledge) -> bool:
        """ "Кто у вас ЛОР?": the doctors of that specialty, by name."""
        if "doctors_list" not in u.extra or not u.specialty:
            return False
        names = [d.full_name for d in knowledge.doctors if d.specialty == u.specialty]
        if not names:
            return False
        step.answer(self.texts.get("doctors_of_specialty", specialty=u.specialty, doctors=", ".join(names)))
        return True

    def _answer_question(
        self, state: ConversationState, step: Step, u: Understanding, knowledge: Knowledge
    ) -> bool:
        asks = u.has(Intent.QUESTION) or not u.has_booking_facts
        if not asks or (state.awaiting == Slot.CONFIRM and u.has(Intent.YES)):
            return False
        if u.reply:
            step.answer(u.reply)
            return True
        if u.faq:
            step.answer(u.faq[0].entry.answer)
            return True
        return False

    @staticmethod
    def _callback_in(knowledge: Knowledge, local: datetime) -> str:
        """ "в течение 15 минут" while the clinic is open, else when it opens ("завтра с 08:00")."""
        clinic = knowledge.clinic
        later = local + timedelta(minutes=clinic.callback_minutes)
        if clinic_open(clinic, local) and clinic_open(clinic, later):
            return f"в течение {clinic.callback_minutes} минут"
        return next_opening(clinic, local)

    def _callback_when(self, state: ConversationState, knowledge: Knowledge, local: datetime) -> str:
        """When an administrator calls back: within the clinic's minutes now, or when it opens."""
        when = self._callback_in(knowledge, local)
        done = bool(state.leads) and state.stage == Stage.IDLE
        key = "callback_when_done" if done else "callback_when"
        if self.texts.has(key):
            return self.texts.get(key, when=when)
        return (
            f"Администратор перезвонит {when} и подберёт точное время приёма."  # prompts of an older version
        )

    def _confirm(
        self, state: ConversationState, step: Step, address: Address, local: datetime, knowledge: Knowledge
    ) -> Step:
        lead_id = state.lead_id or self.new_id()
        lead = lead_of(state, address, local, knowledge, lead_id, Status.NEW)
        step.effects.append(StoreLead(lead, update=bool(state.lead_id)))
        state.leads.append(lead_id)
        state.last_lead = lead.to_row()
        clinic = knowledge.clinic
        if clinic_open(clinic, local) and clinic_open(
            clinic, local + timedelta(minutes=clinic.callback_minutes)
        ):
            done = self.texts.get("done_open", name=lead.name, minutes=clinic.callback_minutes)
        else:
            done = self.texts.get("done_closed", name=lead.name, when=next_opening(clinic, local))
        step.say(done if lead.name else done.replace(", !", "!"))  # a patient who gave no name
        second = state.next_specialty
        state.reset_booking()
        state.next_specialty = ""
        if second in knowledge.specialties:
            # The second specialist named at the start: the same name and phone, the rest asked again.
            state.booking.specialty = second
            state.stage = Stage.BOOKING
            step.note(self.texts.get("second_booking_now", service=second))
            self._ask_next(state, step, knowledge, local, repeat=False)
            return self._record(state, step)
        step.say(self.texts.get("after_done"))
        state.awaiting = Slot.MORE
        state.closed = True  # nothing left to remind about
        return self._record(state, step)

    def _start_fix(self, state: ConversationState, step: Step, field: str, knowledge: Knowledge) -> Step:
        b = state.booking
        if field not in FIX_FIELDS:
            return self._record(state, step)
        state.stage = Stage.BOOKING
        if field == "service":
            b.doctor, b.specialty, state.choices = "", "", []
            state.awaiting = Slot.SERVICE
            step.say(self.texts.get("ask_fix_service"), self._specialty_buttons(knowledge))
        elif field == "name":
            b.name = ""
            state.awaiting = Slot.NAME
            step.say(self.texts.get("ask_fix_name"))
        elif field == "phone":
            b.phone = ""
            state.awaiting = Slot.PHONE
            step.say(self.texts.get("ask_fix_phone"), request_contact=True)
        elif field == "window":
            b.window = ""
            state.awaiting = Slot.WINDOW
            step.say(self.texts.get("ask_window"), self._window_buttons())
        else:
            b.visit = ""
            state.awaiting = Slot.VISIT
            step.say(self.texts.get("ask_visit"), self._visit_buttons())
        return self._record(state, step)


def _same_stem(surname: str, other: str) -> bool:
    """ "Кузнецов" and "Кузнецова": one surname in the two genders."""
    a, b = fold(surname), fold(other)
    return a != b and (
        a.removesuffix("а") == b.removesuffix("а") or a.removesuffix("ая") == b.removesuffix("ий")
    )


__all__ = ["DialogueCore", "Visit", "clinic_open", "format_phone", "next_opening"]
