"""Forced transitions (a test helper): rewrite the rest of a message's script so a chosen
status happens now. What already happened stays; the planned future is dropped."""

from __future__ import annotations

from mock_hyber.codes import Catalogue
from mock_hyber.engine.plan import SEEN_CHANNELS
from mock_hyber.engine.timeline import MOMENT_SIZE, Kind, MessageView, Moment, pack_script
from mock_hyber.model import Message

FORCEABLE = ("delivered", "failed", "expired", "seen", "clicked")
_ENDINGS = {"delivered": Kind.DELIVERED, "failed": Kind.FAILED, "expired": Kind.EXPIRED}


class TransitionError(ValueError):
    """The transition cannot happen to this message now (answered with 409)."""


def forced_script(
    message: Message,
    state: MessageView,
    status: str,
    now_ms: int,
    catalogue: Catalogue,
    channel: str | None = None,
    code: int | None = None,
    clicks: int = 1,
) -> bytes:
    job = message.job
    if not message.accepted:
        raise TransitionError("the message was rejected at acceptance")
    if message.script is None or now_ms < job.begin_ms:
        raise TransitionError("the message has not started yet; advance the clock first")
    offset = now_ms - job.begin_ms
    added: list[Moment] = []
    if status in _ENDINGS:
        if message.state.final:
            raise TransitionError(f"the message is already final ({message.state.name.lower()})")
        leg = _leg_for(message, state, channel, offset, catalogue, added)
        name = job.channels[leg]
        event = "delivered" if status == "delivered" else status
        route = job.route
        template = route is not None and route.viber_template and name == "viber"
        # A text no registered template matches is delivered as an ordinary message.
        if event == "delivered" and template and job.viber_template_id(message.index):
            event = "delivered_template"
        final_code = code if code is not None else catalogue.event(name, event).code
        added.append(Moment(offset, _ENDINGS[status], leg, final_code, final=True))
    else:
        delivered = state.delivered_leg
        if delivered is None:
            raise TransitionError(f"only a delivered message can be {status}")
        leg = job.channels.index(delivered.channel)
        if status == "seen":
            if delivered.channel not in SEEN_CHANNELS:
                raise TransitionError(f"{delivered.channel} has no seen status")
            seen_code = (
                code if code is not None else catalogue.event(delivered.channel, "seen").code
            )
            added.append(Moment(offset, Kind.SEEN, leg, seen_code))
        else:
            added.append(Moment(offset, Kind.CLICK, leg, clicks))
    return message.script[: message.step * MOMENT_SIZE] + pack_script(added)


def _leg_for(
    message: Message,
    state: MessageView,
    channel: str | None,
    offset: int,
    catalogue: Catalogue,
    added: list[Moment],
) -> int:
    """The leg in progress, or a new leg started now on `channel` (default: the next one)."""
    channels = message.job.channels
    running = [leg for leg in state.legs if leg.ended_ms is None]
    if running:
        active = running[-1]
        if channel is not None and channel != active.channel:
            raise TransitionError(f"{active.channel} is in progress, not {channel}")
        return channels.index(active.channel)
    tried = {leg.channel for leg in state.legs}
    if channel is None:
        untried = [name for name in channels if name not in tried]
        if not untried:
            raise TransitionError("every channel was tried already")
        channel = untried[0]
    if channel not in channels:
        raise TransitionError(f"{channel} is not a channel of this message")
    if channel in tried:
        raise TransitionError(f"{channel} was tried already")
    leg = channels.index(channel)
    added.append(Moment(offset, Kind.START, leg, catalogue.event(channel, "sent").code))
    return leg
