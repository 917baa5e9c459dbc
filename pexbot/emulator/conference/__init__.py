"""The emulated node's domain: conferences, participants, tokens, events, floor, brokers.

Pure rules (:mod:`.admission`, :mod:`.policy`) and state (:mod:`.model`) with the operations
that change it; :class:`~.node.Node` ties them together. Media is reached only through the
seam in :mod:`pexbot.emulator.media.backend`.
"""

from .faults import Faults
from .node import Node

__all__ = ["Faults", "Node"]
