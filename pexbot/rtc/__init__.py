"""The aiortc glue that the client and the emulator share.

SDP munging between what Pexip sends and what aiortc digests (:mod:`.sdp`, :mod:`.sdp_codecs`,
:mod:`.sdp_remote`), ICE servers and trickled candidates (:mod:`.ice`), one peer connection
(:mod:`.peer`), long-lived outgoing and incoming tracks that outlive it (:mod:`.tracks`,
:mod:`.incoming`), RTP counting (:mod:`.rtp_counter`, :mod:`.raw_stats`), the recovery policy
for restarts (:mod:`.restart`), the direct-media data channel (:mod:`.datachannel`) and the
guarded reaches into aiortc's private parts (:mod:`.aiortc_compat`), encoded media without a
codec (:mod:`.encoded`) and the RTP shortcut that load bots and the forwarding emulator take
(:mod:`.rtp_fast`, :mod:`.encoded_fast`). Nothing here knows about Pexip's REST API.
"""

from .datachannel import ChatMessage, PexChannel
from .encoded import TapStats, on_keyframe_request, request_keyframe, tap_encoded
from .encoded_fast import FrameAssembler, fast_encoded_receive
from .incoming import IncomingTrack
from .peer import Peer
from .raw_stats import RawStream, StreamName
from .restart import RecoveryOptions, RecoveryPolicy, Verdict
from .rtp_counter import RtpReceiveCounter
from .rtp_fast import FastReceive, RtpHeader, RtpWriter, fast_sender, parse_header
from .sdp import Direction, MediaRole, MediaSection, Sdp
from .tracks import OutgoingAudioTrack, OutgoingVideoTrack

__all__ = [
    "ChatMessage",
    "Direction",
    "FastReceive",
    "FrameAssembler",
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
    "RtpHeader",
    "RtpReceiveCounter",
    "RtpWriter",
    "Sdp",
    "StreamName",
    "TapStats",
    "Verdict",
    "fast_encoded_receive",
    "fast_sender",
    "on_keyframe_request",
    "parse_header",
    "request_keyframe",
    "tap_encoded",
]
