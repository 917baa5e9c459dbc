"""Set-up failures end in typed errors and a disconnected call; candidate handling that only
works because of our munging (candidates in the first m-section only, as Infinity sends)."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from callkit import FakeSignalling, PatternVideo, wait_until

from pexbot import wire
from pexbot.call.media_call import CallOptions, MediaCall
from pexbot.emulator.media.aiortc_backend import AiortcMediaBackend
from pexbot.errors import DtlsTimeout, IceTimeout, NegotiationError
from pexbot.rtc.sdp import Sdp

RED = (220, 40, 40)


@pytest.fixture
async def backend() -> AsyncIterator[AiortcMediaBackend]:
    b = AiortcMediaBackend(card_size=(320, 180), fps=10.0)
    yield b
    await b.aclose()


def closed_udp_port() -> tuple[str, int]:
    # The host's own address (the test machine has no loopback candidates), a port just closed.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.connect(("192.0.2.1", 9))
    host = probe.getsockname()[0]
    probe.close()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return host, port


def point_candidates_at(host: str, port: int) -> Callable[[str], str]:
    def rewrite(answer: str) -> str:
        out = []
        for line in answer.splitlines():
            if line.startswith("a=candidate:"):
                bits = line.split()
                if ":" in bits[4]:
                    continue  # drop IPv6
                bits[4], bits[5] = host, str(port)
                line = " ".join(bits)
            out.append(line)
        return "\r\n".join(out) + "\r\n"

    return rewrite


async def test_ice_timeout_when_the_node_is_unreachable(backend: AiortcMediaBackend) -> None:
    # The node's candidates point at a closed port and it never hears of ours.
    sig = FakeSignalling(backend, forward_candidates=False)
    sig.answer_rewriter = point_candidates_at(*closed_udp_port())
    call = MediaCall(sig, CallOptions(video_codec="vp8", ice_timeout=2.0), video=PatternVideo(RED))
    with pytest.raises(IceTimeout, match="ICE"):
        await call.start()
    # Wire order up to the failure is intact, and the call was torn down.
    assert sig.names()[0] == "calls"
    assert sig.names()[-3:] == ["ack", "new_candidate", "disconnect"]
    assert call.ended.is_set() and call.end_reason and "ICE" in call.end_reason


async def test_dtls_failure_with_a_wrong_fingerprint(backend: AiortcMediaBackend) -> None:
    sig = FakeSignalling(backend)
    sig.answer_rewriter = lambda answer: re.sub(
        r"a=fingerprint:(sha-\d+) ([0-9A-F:]+)",
        lambda m: f"a=fingerprint:{m.group(1)} " + re.sub(r"[0-9A-F]", "A", m.group(2)),
        answer,
    )
    call = MediaCall(sig, CallOptions(video_codec="vp8", dtls_timeout=5.0))
    with pytest.raises(DtlsTimeout, match="DTLS"):
        await call.start()
    assert sig.names()[-1] == "disconnect"


async def test_relay_only_without_turn_gathers_nothing(backend: AiortcMediaBackend) -> None:
    sig = FakeSignalling(backend)
    call = MediaCall(sig, CallOptions(relay_only=True, ice_timeout=1.0))
    with pytest.raises(IceTimeout):
        await call.start()
    # No host candidate leaked: only the end-of-candidates marker was trickled.
    candidates = [body for name, body in sig.records if name == "new_candidate"]
    assert candidates == [{"candidate": "", "mid": "0"}]


async def test_answer_with_candidates_in_first_section_only(
    backend: AiortcMediaBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Infinity and browsers list candidates once; aiortc reads the last bundled section.
    The node never learns our candidates here, so only the answer's can connect."""

    def first_section_only(answer: str) -> str:
        parsed = Sdp.parse(answer)
        for section in parsed.media[1:]:
            section.drop_lines(lambda line: line.startswith(("a=candidate", "a=end-of-cand")))
        return str(parsed)

    async def run() -> MediaCall:
        sig = FakeSignalling(backend, forward_candidates=False)
        sig.answer_rewriter = first_section_only
        call = MediaCall(
            sig, CallOptions(video_codec="vp8", ice_timeout=3.0), video=PatternVideo(RED)
        )
        await call.start()
        return call

    call = await run()
    leg = backend.leg(call.call_uuid or "")
    await wait_until(lambda: leg.frames_in["video"] >= 3, what="video over the copied candidates")
    await call.disconnect()

    # Without the copy the same answer cannot connect: the test checks the munging matters.
    monkeypatch.setattr(
        "pexbot.rtc.sdp_remote.copy_candidates_to_bundle", lambda text, mids=None: text
    )
    with pytest.raises(IceTimeout):
        await run()


async def test_unusable_answer_is_a_negotiation_error(backend: AiortcMediaBackend) -> None:
    sig = FakeSignalling(backend)
    sig.answer_rewriter = lambda answer: answer.replace("a=ice-pwd:", "a=x-ice-pwd:")
    call = MediaCall(sig, CallOptions(video_codec="vp8"))
    with pytest.raises(NegotiationError, match="could not be applied"):
        await call.start()
    assert sig.names() == ["calls", "disconnect"]


async def test_signalling_only_node_gives_a_call_without_media() -> None:
    from pexbot.emulator.media.backend import NullMediaBackend

    sig = FakeSignalling(NullMediaBackend())
    call = MediaCall(sig, CallOptions(ice_timeout=1.0))
    try:
        await call.start()  # returns at once: nothing to connect
        assert call.media_rejected
        names = sig.names()
        assert names[0] == "calls" and names[-2:] == ["ack", "new_candidate"]
    finally:
        await call.disconnect()


async def test_refused_calls_request_propagates_unwrapped(backend: AiortcMediaBackend) -> None:
    from pexbot.errors import Forbidden

    class Refusing(FakeSignalling):
        async def post_calls(self, body: wire.CallsBody) -> wire.CallsResult:
            self.records.append(("calls", body.body()))
            raise Forbidden("participant.calls", 403, "not allowed")

    sig = Refusing(backend)
    call = MediaCall(sig, CallOptions())
    with pytest.raises(Forbidden):
        await call.start()
    assert sig.names() == ["calls"]  # no call_uuid: nothing to disconnect
    assert call.ended.is_set()
