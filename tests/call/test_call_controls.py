"""The application's controls on their own: real outgoing tracks, a recording signalling and
a data channel that is not open (or a fake one that keeps what it is asked to send)."""

from __future__ import annotations

import pytest
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from partkit import CALL_UUID, RecordingSignalling

from pexbot.call.controls import CallControls
from pexbot.call.options import CallOptions
from pexbot.errors import CallError
from pexbot.rtc.datachannel import ChatMessage, PexChannel
from pexbot.rtc.tracks import OutgoingAudioTrack, OutgoingVideoTrack


class FakeChannel:
    def __init__(self) -> None:
        self.sent: list[ChatMessage] = []

    def send_chat(self, message: ChatMessage) -> bool:
        self.sent.append(message)
        return True


class Rig:
    def __init__(self, channel: object = None, call_uuid: str | None = CALL_UUID) -> None:
        self.sig = RecordingSignalling()
        self.audio = OutgoingAudioTrack(None)
        self.video = OutgoingVideoTrack(None)
        self.call_uuid = call_uuid
        options = CallOptions(display_name="Alice", participant_uuid="alice-uuid")
        self.controls = CallControls(
            self.sig,
            options,
            audio=self.audio,
            video=self.video,
            channel=channel,  # type: ignore[arg-type]
            call_uuid=lambda: self.call_uuid,
        )


def test_muting_one_track_leaves_the_other_alone() -> None:
    rig = Rig()
    rig.controls.set_audio_muted(True)
    assert rig.audio.muted and not rig.video.muted
    rig.controls.set_video_muted(True)
    rig.controls.set_audio_muted(False)
    assert not rig.audio.muted and rig.video.muted


def test_swapping_sources_never_stops_the_one_swapped_out() -> None:
    rig = Rig()
    first, second = AudioStreamTrack(), AudioStreamTrack()
    rig.controls.set_audio_source(first)
    rig.controls.set_audio_source(second)
    assert rig.audio.source is second and first.readyState == "live"
    camera = VideoStreamTrack()
    rig.controls.set_video_source(camera)
    rig.controls.set_video_source(None)
    assert rig.video.source is None and camera.readyState == "live"
    assert rig.audio.source is second  # each line has its own source


async def test_dtmf_goes_over_rest_for_the_answered_call() -> None:
    rig = Rig()
    await rig.controls.send_dtmf("123#")
    assert rig.sig.sent == [("dtmf", (CALL_UUID, "123#"))]


async def test_dtmf_before_the_call_is_answered_is_refused() -> None:
    rig = Rig(call_uuid=None)
    with pytest.raises(CallError, match="before the call is answered"):
        await rig.controls.send_dtmf("1")
    assert rig.sig.sent == []
    rig.call_uuid = "call-2"  # read when sending, not when made
    await rig.controls.send_dtmf("1")
    assert rig.sig.sent == [("dtmf", ("call-2", "1"))]


def test_chat_is_signed_with_our_identity() -> None:
    channel = FakeChannel()
    rig = Rig(channel)
    assert rig.controls.send_message("hi", type="text/markdown") is True
    assert channel.sent == [
        ChatMessage("hi", origin="Alice", uuid="alice-uuid", type="text/markdown")
    ]


def test_chat_waits_for_a_channel_that_is_not_open() -> None:
    channel = PexChannel(7)
    rig = Rig(channel)
    assert rig.controls.send_message("queued") is False
    assert channel.sent == 0


def test_chat_without_a_data_channel_is_refused() -> None:
    rig = Rig(None)
    with pytest.raises(CallError, match="no data channel"):
        rig.controls.send_message("hi")
