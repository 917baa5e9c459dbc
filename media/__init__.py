"""Media sources and sinks over aiortc tracks. Knows nothing of Pexip."""

# --- sinks: recording, frame callbacks, discard ---
from media.callback_sink import CallbackSink, CallbackStats, audio_array
from media.discard import DiscardSink, TrackCount
from media.mux import ContainerSpec, Muxer, RecordingError, container_spec
from media.passthrough_recorder import PassthroughRecorder
from media.recorder import Recorder
from media.recording_file import FileStats, StreamStats
from media.sink import Sink

# isort: split
# --- sources, codes, analyser ---
from media.analyser import Analyser
from media.analysis import (
    AnalyserReport,
    AudioReport,
    LatencySummary,
    RoleReport,
    SecondStats,
    VideoReport,
)
from media.clock import MediaClock, PacedAudioTrack, PacedVideoTrack, Pacer
from media.errors import MediaError, SourceError, TrackStoppedError
from media.file_source import FileSource, FileTrack
from media.image_source import ImageVideoSource
from media.numpy_source import NumpyAudioSource, NumpyVideoSource
from media.pattern import Code, draw_code, find_codes
from media.switchable import SwitchableAudioTrack, SwitchableVideoTrack
from media.synthetic import (
    BlackVideoSource,
    PatternRenderer,
    PatternVideoSource,
    SilenceAudioSource,
    ToneAudioSource,
)
from media.tone import ToneDetector, ToneSpec, tone_samples

# isort: split
# --- presenter: slides, images, videos and tracks as one presentation track ---
from media.content import ContentCaps, ItemFeed
from media.presenter import PresentationPlaylist, PresentationTrack
from media.slides import (
    EmptyFolderError,
    ImageItem,
    MissingSourceError,
    PresentationItem,
    TrackItem,
    UnreadableImageError,
    UnreadableMediaError,
    VideoItem,
    deck_items,
    items_from_paths,
)

__all__ = [
    # --- sinks: recording, frame callbacks, discard ---
    "CallbackSink",
    "CallbackStats",
    "ContainerSpec",
    "DiscardSink",
    "FileStats",
    "Muxer",
    "PassthroughRecorder",
    "Recorder",
    "RecordingError",
    "Sink",
    "StreamStats",
    "TrackCount",
    "audio_array",
    "container_spec",
    # --- end of sinks ---
]

# --- sources, codes, analyser ---
__all__ += [
    "Analyser",
    "AnalyserReport",
    "AudioReport",
    "BlackVideoSource",
    "Code",
    "FileSource",
    "FileTrack",
    "ImageVideoSource",
    "LatencySummary",
    "MediaClock",
    "MediaError",
    "NumpyAudioSource",
    "NumpyVideoSource",
    "PacedAudioTrack",
    "PacedVideoTrack",
    "Pacer",
    "PatternRenderer",
    "PatternVideoSource",
    "RoleReport",
    "SecondStats",
    "SilenceAudioSource",
    "SourceError",
    "SwitchableAudioTrack",
    "SwitchableVideoTrack",
    "ToneAudioSource",
    "ToneDetector",
    "ToneSpec",
    "TrackStoppedError",
    "VideoReport",
    "draw_code",
    "find_codes",
    "tone_samples",
]

# --- presenter: slides, images, videos and tracks as one presentation track ---
__all__ += [
    "ContentCaps",
    "EmptyFolderError",
    "ImageItem",
    "ItemFeed",
    "MissingSourceError",
    "PresentationItem",
    "PresentationPlaylist",
    "PresentationTrack",
    "TrackItem",
    "UnreadableImageError",
    "UnreadableMediaError",
    "VideoItem",
    "deck_items",
    "items_from_paths",
]
