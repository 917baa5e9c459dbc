"""The negotiator on its own: fake peer connections and a recording signalling, no call.

What is checked is its decisions: the wire order of set-up, who yields when offers cross
(impolite ignores, polite rolls back and answers), when a new connection answers, restarts,
the far end leaving, and that nothing is negotiated after close."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import pytest
from callkit import wait_until
from partkit import CALL_UUID, FakePeer, FakePeers, RecordingSignalling, sdp

from pexbot import wire
from pexbot.call import negotiation
from pexbot.call.negotiation import OFFER_ATTEMPTS, Negotiator
from pexbot.call.options import CallOptions, CallTimings
from pexbot.errors import CallError, NegotiationError, TransportError
from pexbot.rtc.restart import RecoveryPolicy
from pexbot.rtc.sdp import MediaRole

ROLES: list[MediaRole] = ["audio", "video", "slides"]
IGNORED = wire.AckBody(sdp="offer_ignored", offer_ignored=True)


@dataclass
class Rig:
    sig: RecordingSignalling
    direct: bool = False
    presenting: bool = False
    peers: FakePeers = field(default_factory=FakePeers)
    given_up: list[str] = field(default_factory=list)
    timings: CallTimings = field(default_factory=CallTimings)

    def __post_init__(self) -> None:
        options = CallOptions(direct_media=self.direct)
        self.policy = RecoveryPolicy(options.recovery)
        self.n = Negotiator(
            self.sig,
            options,
            ROLES,
            self.peers,  # type: ignore[arg-type]
            self.policy,
            self.timings,
            presenting=lambda: self.presenting,
            give_up=self.given_up.append,
        )

    @property
    def peer(self) -> FakePeer:
        assert self.peers.current is not None
        return self.peers.current


async def dialled(sig: RecordingSignalling, *, direct: bool = False) -> Rig:
    rig = Rig(sig, direct=direct)
    assert await rig.n.dial(time.monotonic()) is None
    return rig


async def waiting_then_answered() -> Rig:
    """Direct media: no far end at /calls (polite), then its offer answered."""
    rig = await dialled(RecordingSignalling(calls_answer="", update_answer=None), direct=True)
    await rig.n.answer(sdp("far1"), "new_offer")
    return rig


# --- set-up ------------------------------------------------------------------------------


async def test_answered_dial_trickles_acks_and_is_the_impolite_end() -> None:
    sig = RecordingSignalling()
    rig = await dialled(sig)
    assert sig.names() == ["calls", "new_candidate", "ack", "new_candidate"]
    assert sig.bodies("ack") == [wire.AckBody()]
    assert sig.bodies("new_candidate")[-1] == wire.NewCandidateBody(candidate="", mid="0")
    assert "a=content:slides" in sig.bodies("calls")[0].sdp  # Pexip tells the lines apart by it
    assert rig.n.call_uuid == CALL_UUID
    assert not rig.n.polite and not rig.n.waiting_for_peer
    assert rig.peer.remote_applied and rig.n.answer_sdp == sig.calls_answer
    assert rig.policy.leader
    assert rig.timings.acked is not None and rig.timings.posted is not None


async def test_unanswered_dial_in_direct_media_waits_polite_on_a_fresh_connection() -> None:
    sig = RecordingSignalling(calls_answer="")
    rig = await dialled(sig, direct=True)
    assert rig.n.waiting_for_peer and rig.n.polite
    first, second = rig.peers.made
    assert first.closed and not second.closed
    # The discarded connection's candidates are posted (as Pexip's client does); no ack.
    assert sig.names() == ["calls", "new_candidate"]


async def test_unanswered_dial_outside_direct_media_is_a_negotiation_error() -> None:
    rig = Rig(RecordingSignalling(calls_answer=""))
    with pytest.raises(NegotiationError, match="direct-media"):
        await rig.n.dial(time.monotonic())


async def test_a_node_refusing_every_line_gives_a_call_without_media() -> None:
    sig = RecordingSignalling(calls_answer=sdp("node", port=0))
    rig = await dialled(sig)
    assert rig.n.media_rejected and not rig.peer.remote_applied
    assert await rig.n.restart("nothing to restart") is False
    assert sig.names().count("update") == 0


# --- offers crossing -----------------------------------------------------------------------


async def test_the_impolite_end_ignores_an_offer_crossing_its_own() -> None:
    sig = RecordingSignalling(update_answer=None)
    rig = await dialled(sig, direct=True)
    ours = asyncio.create_task(rig.n.set_slides_direction("sendonly"))
    await wait_until(lambda: rig.n.pending_update is not None, within=2, what="our update")
    pending = rig.n.pending_update
    await rig.n.answer(sdp("far1", slides="sendonly"), "update_sdp")
    assert sig.bodies("ack")[-1] == IGNORED
    assert pending is not None and not pending.done()  # ours stands
    assert rig.peer.answered == []
    sig.answer_update(sdp("node", slides="recvonly"))
    await ours
    assert rig.peer.slides == "sendonly" and sig.bodies("ack")[-1] == wire.AckBody()
    assert len(rig.peers.made) == 1


async def test_the_polite_end_drops_its_offer_answers_and_does_not_offer_again() -> None:
    rig = await waiting_then_answered()
    sig = rig.sig
    answered_on = rig.peer
    ours = asyncio.create_task(rig.n.set_slides_direction("recvonly"))
    await wait_until(lambda: rig.n.pending_update is not None, within=2, what="our update")
    pending = rig.n.pending_update
    # The far end's offer sends slides: answering it gives the recvonly we wanted.
    await rig.n.answer(sdp("far1", slides="sendonly"), "update_sdp")
    async with asyncio.timeout(2):
        await ours
    assert pending is not None and pending.cancelled()
    assert rig.peer is answered_on  # rolled back and answered on the same connection
    assert answered_on.slides == "recvonly" and answered_on.pc.signalingState == "stable"
    assert sig.bodies("update") and len(sig.bodies("update")) == 1
    last_ack = sig.bodies("ack")[-1]
    assert last_ack.sdp and not last_ack.offer_ignored


async def test_the_polite_end_offers_again_when_the_far_ends_answer_did_not_do_it() -> None:
    rig = await waiting_then_answered()
    sig = rig.sig
    ours = asyncio.create_task(rig.n.set_slides_direction("sendonly"))
    await wait_until(lambda: rig.n.pending_update is not None, within=2, what="our update")
    await rig.n.answer(sdp("far1", slides="inactive"), "update_sdp")
    await wait_until(lambda: sig.waiting_updates() == 1, within=3, what="our offer again")
    sig.answer_update(sdp("far1", slides="recvonly"))  # from the far end: its credentials
    async with asyncio.timeout(2):
        await ours
    assert len(sig.bodies("update")) == 2
    assert rig.peer.slides == "sendonly"


async def test_answering_a_far_end_hands_its_offer_whether_we_present() -> None:
    rig = await dialled(RecordingSignalling(calls_answer=""), direct=True)
    rig.presenting = True
    await rig.n.answer(sdp("far1", slides="recvonly"), "new_offer")
    assert rig.peer.answered == [(sdp("far1", slides="recvonly"), True)]
    assert rig.peer.slides == "sendonly"


async def test_the_first_far_end_leads_restarts_from_then_on() -> None:
    rig = await waiting_then_answered()
    assert not rig.n.waiting_for_peer and rig.n.peers_answered == 1
    assert not rig.policy.leader
    assert rig.sig.bodies("ack")[-1].sdp  # ack {sdp}: the answer goes with the ack


async def test_a_far_end_that_restarted_is_answered_on_a_new_connection() -> None:
    rig = await waiting_then_answered()
    old = rig.peer
    await rig.n.answer(sdp("far2"), "update_sdp")  # new ICE credentials: aiortc cannot follow
    assert old.closed and rig.peer is not old
    assert rig.peer.remote_ice_ufrag() == "far2"
    assert rig.n.peers_answered == 1  # the same far end


async def test_an_offer_the_far_end_keeps_ignoring_fails_after_so_many_tries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(negotiation, "GLARE_WAIT", 0.001)
    sig = RecordingSignalling(update_answer="")  # direct media: "" means ignored
    rig = await dialled(sig, direct=True)
    with pytest.raises(NegotiationError, match="crossed"):
        await rig.n.set_slides_direction("sendonly")
    assert len(sig.bodies("update")) == OFFER_ATTEMPTS
    assert rig.peer.pc.signalingState == "stable"  # each rolled back
    assert len(rig.peers.made) == 1


async def test_an_empty_answer_outside_direct_media_is_ignored() -> None:
    sig = RecordingSignalling(update_answer="")
    rig = await dialled(sig)
    await rig.n.set_slides_direction("sendonly")
    assert len(sig.bodies("update")) == 1
    assert sig.names()[-1] == "update"  # no ack for an answer that did not come


# --- our offers ----------------------------------------------------------------------------


async def test_a_restart_is_a_new_connection_keeping_the_negotiated_slides() -> None:
    sig = RecordingSignalling(update_answer=sdp("node", slides="recvonly"))
    rig = await dialled(sig)
    await rig.n.set_slides_direction("sendonly")
    rig.n.expect_slides("recvonly")  # wanted, not negotiated: the restart keeps what is
    sig.update_answer = sdp("node2", slides="recvonly")
    assert await rig.n.restart("test") is True
    old, new = rig.peers.made
    assert old.closed and not new.closed
    assert new.offered_slides == "sendonly" and new.remote_ice_ufrag() == "node2"
    assert rig.n.restarts == 1
    assert sig.names()[-2:] == ["update", "ack"]


async def test_settled_slides_direction_is_unknown_while_an_exchange_is_in_flight() -> None:
    sig = RecordingSignalling(update_answer=None)
    rig = Rig(sig)
    assert rig.n.settled_slides_direction() is None  # no connection
    await rig.n.dial(time.monotonic())
    assert rig.n.settled_slides_direction() == "inactive"
    ours = asyncio.create_task(rig.n.set_slides_direction("sendonly"))
    await wait_until(lambda: rig.n.pending_update is not None, within=2, what="our update")
    assert rig.n.settled_slides_direction() is None
    sig.answer_update(sdp("node", slides="recvonly"))
    await ours
    assert rig.n.settled_slides_direction() == "sendonly"


async def test_no_slides_line_no_direction_to_negotiate() -> None:
    sig = RecordingSignalling()
    options = CallOptions(media_type="audio")
    n = Negotiator(
        sig,
        options,
        ["audio"],
        FakePeers(),  # type: ignore[arg-type]
        RecoveryPolicy(),
        CallTimings(),
        presenting=lambda: False,
        give_up=lambda reason: None,
    )
    with pytest.raises(CallError, match="no presentation line"):
        await n.set_slides_direction("sendonly")
    assert sig.sent == []


# --- the far end leaving, hanging up, closing -------------------------------------------------


async def test_the_far_end_leaving_disconnects_and_dials_again_for_the_next() -> None:
    rig = await waiting_then_answered()
    answered = rig.peer
    mark = len(rig.sig.sent)
    await rig.n.peer_left()
    assert answered.closed
    assert rig.sig.names()[mark:] == ["disconnect", "calls", "new_candidate"]
    assert rig.n.waiting_for_peer and rig.n.polite and rig.n.call_uuid == CALL_UUID


async def test_the_far_end_leaving_gives_up_when_no_new_call_can_be_made() -> None:
    rig = await waiting_then_answered()
    rig.sig.calls_error = TransportError("node gone")
    await rig.n.peer_left()
    assert rig.given_up == ["could not wait for the next far end: node gone"]


async def test_peer_disconnect_outside_direct_media_is_ignored() -> None:
    rig = await dialled(RecordingSignalling())
    mark = len(rig.sig.sent)
    await rig.n.peer_left()
    assert rig.sig.sent[mark:] == [] and not rig.peer.closed


async def test_after_close_the_pending_offer_is_dropped_and_nothing_negotiated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(negotiation, "GLARE_WAIT", 0.001)
    sig = RecordingSignalling(update_answer=None)
    rig = await dialled(sig)
    ours = asyncio.create_task(rig.n.set_slides_direction("sendonly"))
    await wait_until(lambda: rig.n.pending_update is not None, within=2, what="our update")
    pending = rig.n.pending_update
    rig.n.close()
    with pytest.raises(CallError, match="cannot renegotiate"):
        await ours
    assert pending is not None and pending.cancelled()
    mark = len(sig.sent)
    assert await rig.n.restart() is False
    await rig.n.answer(sdp("far1"), "update_sdp")
    assert sig.sent[mark:] == []


async def test_hang_up_forgets_the_call_so_nothing_follows() -> None:
    rig = await dialled(RecordingSignalling())
    assert rig.n.hang_up() == CALL_UUID
    assert rig.n.call_uuid is None and rig.n.hang_up() is None
    with pytest.raises(CallError, match="cannot renegotiate"):
        await rig.n.set_slides_direction("sendonly")
    assert await rig.n.restart() is False


async def test_an_answer_with_other_credentials_is_followed_by_a_restart() -> None:
    rig = await waiting_then_answered()
    sig = rig.sig
    ours = asyncio.create_task(rig.n.set_slides_direction("sendonly"))
    await wait_until(lambda: sig.waiting_updates() == 1, within=2, what="our update")
    sig.answer_update(sdp("far9", slides="recvonly"))  # the far end answered from elsewhere
    await wait_until(
        lambda: sig.waiting_updates() == 1 and len(rig.peers.made) == 3,
        within=2,
        what="the restart's offer",
    )
    sig.answer_update(sdp("far9", slides="recvonly"))
    async with asyncio.timeout(2):
        await ours
    assert rig.n.restarts == 1
    assert rig.peers.made[1].closed and rig.peer.remote_ice_ufrag() == "far9"
    assert rig.peer.offered_slides == "sendonly"
