"""One participant in one conference, from ``request_token`` to ``release_token``."""

from .rejoin import Gap, Rejoiner, RejoinPolicy, node_lost
from .session import Session

__all__ = ["Gap", "RejoinPolicy", "Rejoiner", "Session", "node_lost"]
