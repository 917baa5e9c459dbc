"""The aiortc glue that the client and the emulator share.

SDP munging between what Pexip sends and what aiortc digests (:mod:`.sdp`, :mod:`.sdp_codecs`,
:mod:`.sdp_remote`), ICE servers and trickled candidates (:mod:`.ice`), one peer connection
(:mod:`.peer`), long-lived outgoing and incoming tracks that outlive it (:mod:`.tracks`,
:mod:`.incoming`), RTP counting (:mod:`.rtp_counter`, :mod:`.raw_stats`), the recovery policy
for restarts (:mod:`.restart`), the direct-media data channel (:mod:`.datachannel`) and the
guarded reaches into aiortc's private parts (:mod:`.aiortc_compat`). Nothing here knows about
Pexip's REST API.
"""

from .datachannel import ChatMessage, PexChannel
from .encoded import TapStats, on_keyframe_request, request_keyframe, tap_encoded
from .incoming import IncomingTrack
from .peer import Peer
from .raw_stats import RawStream, StreamName
from .restart import RecoveryOptions, RecoveryPolicy, Verdict
from .rtp_counter import RtpReceiveCounter
from .sdp import Direction, MediaRole, MediaSection, Sdp
from .tracks import OutgoingAudioTrack, OutgoingVideoTrack

__all__ = [
    "ChatMessage",
    "Direction",
    "IncomingTrack",
    "MediaRole",
    "MediaSection",
    "OutgoingAudioTrack",
    "OutgoingVideoTrack",
    "Peer",
    "PexChannel",
    "RawStream",
    "RecoveryOptions",
    "RecoveryPolicy",
    "RtpReceiveCounter",
    "Sdp",
    "StreamName",
    "TapStats",
    "Verdict",
    "on_keyframe_request",
    "request_keyframe",
    "tap_encoded",
]
