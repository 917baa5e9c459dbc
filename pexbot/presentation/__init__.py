"""A session's presentation: floor control, sending, being taken over, receiving, JPEG fallback."""

from .controller import PresentationController
from .jpeg import JpegPresentationReceiver
from .outcomes import SendingStopped, StopReason
from .receiving import PresentationReceiving

__all__ = [
    "JpegPresentationReceiver",
    "PresentationController",
    "PresentationReceiving",
    "SendingStopped",
    "StopReason",
]
