"""Fuzzing remote SDP: whatever a node or a far end sends as an offer or an answer, the munging
in front of aiortc returns text or raises NegotiationError (aiortc's own errors are wrapped
into it by the peer), never anything else."""

from __future__ import annotations

import pytest
from fuzzing import SOAK_EXAMPLES, fuzz_settings
from hypothesis import given
from hypothesis import strategies as st
from sdp_samples import CHROME_OFFER, infinity_answer

from pexbot.errors import NegotiationError
from pexbot.rtc import sdp, sdp_codecs, sdp_remote

SAMPLES = [CHROME_OFFER, infinity_answer(), infinity_answer(slides_rejected=True)]
junk_lines = st.sampled_from(
    ["m=", "m=audio", "m=video x RTP/AVP 96", "m=audio 9", "a=", "a=rtpmap:", "a=fmtp:96",
     "a=candidate:", "a=candidate:1 1 udp x 1.2.3.4 5 typ host", "a=group:BUNDLE", "a=mid:",
     "a=content:slides", "a=ssrc:", "c=IN IP4", "b=TIAS:", "a=rtcp-fb:* nack", "\x00", "é"]
)  # fmt: skip


@st.composite
def mangled_sdp(draw: st.DrawFn) -> str:
    """A real SDP with lines dropped, repeated, cut short or replaced by junk."""
    lines = draw(st.sampled_from(SAMPLES)).splitlines()
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        i = draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))
        action = draw(st.sampled_from(["drop", "dup", "cut", "junk", "text"]))
        if not lines:
            break
        if action == "drop":
            del lines[i]
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "cut":
            lines[i] = lines[i][: draw(st.integers(min_value=0, max_value=len(lines[i])))]
        elif action == "junk":
            lines[i] = draw(junk_lines)
        else:
            lines[i] = draw(st.text(max_size=40))
    return "\r\n".join(lines) + "\r\n"


remote_sdp = mangled_sdp() | st.text(max_size=300)


def munge_answer(text: str) -> str:
    # What Peer.apply_answer does before aiortc sees it.
    answer = sdp_remote.sanitise_remote(text, local_offer=CHROME_OFFER)
    answer = sdp_codecs.prefer_video_codec(answer, "vp8")
    answer = sdp_remote.copy_candidates_to_bundle(answer, sdp.mids(answer))
    sdp.sections_without_ssrc(answer)
    return answer


def munge_offer(text: str) -> str:
    # What Peer.answer_offer does before aiortc sees it.
    offer = sdp_remote.copy_candidates_to_bundle(sdp_remote.sanitise_remote(text))
    sdp.directions(offer)
    sdp.section_roles(offer)
    return offer


@fuzz_settings()
@given(text=remote_sdp)
def test_any_answer_is_munged_or_refused_typed(text: str) -> None:
    try:
        assert isinstance(munge_answer(text), str)
    except NegotiationError as exc:
        assert "\n" not in str(exc)


@fuzz_settings()
@given(text=remote_sdp)
def test_any_offer_is_munged_or_refused_typed(text: str) -> None:
    try:
        assert isinstance(munge_offer(text), str)
    except NegotiationError as exc:
        assert "\n" not in str(exc)


def test_well_formed_samples_still_munge() -> None:
    for sample in SAMPLES:
        assert munge_answer(sample).count("m=") == 3
        assert munge_offer(sample).count("m=") == 3


@pytest.mark.soak
def test_soak_remote_sdp() -> None:
    @fuzz_settings(SOAK_EXAMPLES)
    @given(text=remote_sdp)
    def both(text: str) -> None:
        for munge in (munge_answer, munge_offer):
            try:
                munge(text)
            except NegotiationError:
                pass

    both()
