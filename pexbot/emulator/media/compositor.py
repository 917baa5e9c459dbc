"""The transcoding conference: each participant gets a composed layout of the others' video and
the mix of the others' audio; speech is detected and reported for the stage.

:class:`ComposeRouter` is a :class:`~.media_aiortc_router.MediaRouter` (one per room). What
each participant sees is decided by the node (:meth:`ComposeRouter.views_changed`: the layout
and the participants in tile order, the same list its ``layout`` event carries); without a node
(the router used on its own) everyone sees the room's layout filled in join order. The router
paints exactly the view: tile ``i`` shows participant ``i``'s newest frame, letterboxed; a
participant without video gets a placeholder; someone whose view is empty (alone in the room)
gets the waiting card, the outputs' filler.

Threads and buffers: inputs are watched on the event loop, where a watcher only keeps the
newest video frame of each participant (older ones are dropped) and feeds audio to the bounded
jitter buffers of the :class:`~.audio_mixer.AudioMixer` and to voice detection. Painting
(scaling with libswscale, which releases the GIL, and numpy blits) runs in one worker thread
per room; the composed tracks are paced by the clock and ask for a picture each tick, so work
follows demand (a participant that receives no video costs nothing) and a slow worker lowers
the frame rate rather than queueing. Mixing one 20 ms period is a few numpy additions over
1920 samples, well under the cost of handing it to a thread, so it stays on the loop.

Server-side mute (:class:`~.media.MediaPolicy`): a muted participant's audio is not fed to the
mixer (its buffered samples are dropped at once, so nothing of it is heard after the mute) nor
to voice detection (it stops speaking on the stage); unmuted, it is mixed again after the
mixer's usual prebuffering.

Test calls and presentation (slides) are relayed as :class:`~.media_aiortc_router.RelayRouter`
does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import itertools
import logging
import time
from collections.abc import Callable, Mapping

from aiortc.mediastreams import MediaStreamTrack
from av import AudioFrame, VideoFrame

from pexbot.rtc.sdp import MediaRole

from . import layouts
from .audio_mixer import AudioMixer
from .backend import MediaPolicy, MediaView
from .canvas import Painter, Tile
from .compose_tracks import AudioNormaliser, ComposedVideoTrack, MixedAudioTrack
from .router import Fanout, FrameWatcher, Leg, RelayRouter, VoiceCallback
from .speakers import VoiceActivity

log = logging.getLogger(__name__)


@dataclasses.dataclass(eq=False)
class _VideoSlot:
    """The newest frame of one leg's video (older frames are dropped, never queued)."""

    id: int
    frame: VideoFrame | None = None
    seq: int = 0


@dataclasses.dataclass(eq=False)
class _AudioIn:
    normalise: AudioNormaliser
    voice: VoiceActivity


class ComposeRouter(RelayRouter):
    def __init__(
        self,
        room: str,
        *,
        size: tuple[int, int] = (640, 360),
        fps: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(room)
        width, height = size
        if width % 2 or height % 2 or width < 16 or height < 16:
            raise ValueError(f"composed size must be even and at least 16x16, got {size}")
        if fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.size = (width, height)
        self.fps = fps
        self.layout = self._layout = layouts.DEFAULT_LAYOUT
        self._clock = clock
        self._node_views: dict[str, MediaView] | None = None
        self._slot_ids = itertools.count(1)
        self._slots: dict[Leg, _VideoSlot] = {}
        self._audio_in: dict[Leg, _AudioIn] = {}
        self._watched: dict[tuple[Leg, MediaRole], tuple[Fanout, FrameWatcher]] = {}
        self._video_out: dict[Leg, ComposedVideoTrack] = {}
        self._audio_out: dict[Leg, MixedAudioTrack] = {}
        self._mixer = AudioMixer(epoch=clock())
        self._painter = Painter()
        self._executor = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix=f"compose-{room[:8]}"
        )
        self._voice: VoiceCallback | None = None
        self._closed = False
        #: the view each leg's last picture was painted from (tests, diagnostics)
        self.painted: dict[Leg, MediaView] = {}
        self.pictures = 0

    @property
    def mixer(self) -> AudioMixer:
        return self._mixer

    # -- MediaRouter ------------------------------------------------------------------------

    def inputs_changed(self, leg: Leg) -> None:
        super().inputs_changed(leg)  # makes the fanouts
        for role in ("audio", "video"):
            fanout = self._fanouts.get((leg, role))
            watched = self._watched.get((leg, role))
            if fanout is None or (watched is not None and watched[0] is fanout):
                continue
            if watched is not None:
                watched[0].unwatch(watched[1])
            watcher = self._watch_video(leg) if role == "video" else self._watch_audio(leg)
            fanout.watch(watcher)
            self._watched[(leg, role)] = (fanout, watcher)
        if "audio" not in leg.sending:
            self._audio_stopped(leg)
        self._refresh()

    async def leg_removed(self, leg: Leg) -> None:
        for key in [k for k in self._watched if k[0] is leg]:
            fanout, watcher = self._watched.pop(key)
            fanout.unwatch(watcher)
        self._audio_stopped(leg)
        self._audio_in.pop(leg, None)
        self._slots.pop(leg, None)
        self.painted.pop(leg, None)
        made: list[tuple[MediaRole, MediaStreamTrack | None]] = [
            ("video", self._video_out.pop(leg, None)),
            ("audio", self._audio_out.pop(leg, None)),
        ]
        for role, track in made:
            output = leg.outputs.get(role)
            if output is not None and track is not None and output.source is track:
                output.set_source(None)  # the leg may live on in another room's router
            if track is not None:
                track.stop()
        await super().leg_removed(leg)

    def layout_changed(self, layout: str) -> None:
        self.layout = self._layout = layout if layouts.known(layout) else layouts.DEFAULT_LAYOUT
        self._refresh()

    def views_changed(self, views: Mapping[str, MediaView]) -> None:
        self._node_views = dict(views)
        self._refresh()

    def watch_voice(self, callback: VoiceCallback | None) -> None:
        self._voice = callback

    def policy_changed(self, policy: MediaPolicy) -> None:
        super().policy_changed(policy)
        for leg in self._legs:
            if self.muted(leg):
                self._audio_stopped(leg)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for leg in list(self._legs):
            await self.leg_removed(leg)
        await super().aclose()
        shutdown = functools.partial(self._executor.shutdown, wait=True, cancel_futures=True)
        await asyncio.get_running_loop().run_in_executor(None, shutdown)

    # -- what each leg gets -----------------------------------------------------------------

    def view_of(self, dest: Leg) -> MediaView:
        if self._node_views is not None:
            empty = MediaView(self._layout, ())
            return self._node_views.get(dest.call.participant_uuid, empty)
        me = dest.call.participant_uuid
        others = list(dict.fromkeys(leg.call.participant_uuid for leg in self._legs))
        others = [uuid for uuid in others if uuid != me]
        return MediaView(self._layout, tuple(others[: layouts.capacity(self._layout)]))

    def _refresh(self) -> None:
        for dest in self._legs:
            for role in dest.outputs:
                if role == "slides" or dest.call.service_type == "test_call":
                    self._route(dest, role, self.choose(dest, role))
                elif role == "video":
                    visible = bool(self.view_of(dest).participants)
                    dest.outputs[role].set_source(self._video_track(dest) if visible else None)
                else:
                    me = dest.call.participant_uuid
                    others = any(leg.call.participant_uuid != me for leg in self._legs)
                    dest.outputs[role].set_source(self._audio_track(dest) if others else None)

    def _video_track(self, dest: Leg) -> ComposedVideoTrack:
        track = self._video_out.get(dest)
        if track is None:
            render = functools.partial(self._paint, dest)
            track = self._video_out[dest] = ComposedVideoTrack(render, self.fps, clock=self._clock)
        return track

    def _audio_track(self, dest: Leg) -> MixedAudioTrack:
        track = self._audio_out.get(dest)
        if track is None:
            key = dest.call.call_uuid
            track = self._audio_out[dest] = MixedAudioTrack(self._mixer, key, clock=self._clock)
        return track

    def _slot_of(self, participant_uuid: str) -> _VideoSlot | None:
        """The newest video of the participant's most recent call that sends video."""
        for leg in reversed(self._legs):
            if leg.call.participant_uuid == participant_uuid and leg.live_input("video"):
                slot = self._slots.get(leg)
                if slot is not None and slot.frame is not None:
                    return slot
        return None

    async def _paint(self, dest: Leg) -> VideoFrame:
        view = self.view_of(dest)
        width, height = self.size
        tiles: list[Tile] = []
        for rect, uuid in zip(
            layouts.tile_rects(view.layout, width, height), view.participants, strict=False
        ):
            slot = self._slot_of(uuid)
            if slot is None:
                tiles.append(Tile(rect))
            else:
                tiles.append(Tile(rect, slot.frame, slot.id, slot.seq))
        loop = asyncio.get_running_loop()
        frame = await loop.run_in_executor(
            self._executor, self._painter.paint, width, height, tiles
        )
        self.painted[dest] = view
        self.pictures += 1
        return frame

    # -- inputs -----------------------------------------------------------------------------

    def _watch_video(self, leg: Leg) -> FrameWatcher:
        slot = self._slots.get(leg)
        if slot is None:
            slot = self._slots[leg] = _VideoSlot(next(self._slot_ids))

        def watcher(frame: AudioFrame | VideoFrame) -> None:
            if isinstance(frame, VideoFrame):
                slot.frame = frame
                slot.seq += 1

        return watcher

    def _watch_audio(self, leg: Leg) -> FrameWatcher:
        audio = self._audio_in.get(leg)
        if audio is None:
            audio = self._audio_in[leg] = _AudioIn(AudioNormaliser(), VoiceActivity())
        key = leg.call.call_uuid
        state = audio

        def watcher(frame: AudioFrame | VideoFrame) -> None:
            if not isinstance(frame, AudioFrame) or "audio" not in leg.sending or self.muted(leg):
                return
            pcm = state.normalise(frame)
            self._mixer.push(key, pcm)
            changed = state.voice.feed(pcm)
            if changed is not None and self._voice is not None:
                self._voice(leg.call.participant_uuid, changed)

        return watcher

    def _audio_stopped(self, leg: Leg) -> None:
        self._mixer.remove(leg.call.call_uuid)
        audio = self._audio_in.get(leg)
        if audio is not None and audio.voice.speaking:
            audio.voice = VoiceActivity()
            if self._voice is not None:
                self._voice(leg.call.participant_uuid, False)


def compose_router_factory(
    *, size: tuple[int, int] = (640, 360), fps: float = 15.0
) -> Callable[[str], ComposeRouter]:
    """A ``router_factory`` for :class:`~.media_aiortc.AiortcMediaBackend`."""
    return functools.partial(ComposeRouter, size=size, fps=fps)
