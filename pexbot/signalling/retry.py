"""Which requests may be sent again after a failure, and when to stop (pure; the transport
sleeps and sends).

Safe to retry is decided by the API's meaning, not by the HTTP method alone: a retry after a
timeout or a 5xx may repeat a request the node *did* carry out (the answer was lost, or the
node failed after acting), so only a request whose repeat leaves the conference as one send
would is retried then.

Idempotent (retried after a timeout, a broken connection or a 5xx):

- every ``GET`` (``participants``, ``conference_status``, avatars, presentation JPEGs, the
  node ``status``): reads;
- ``refresh_token``: the node keeps the old token valid for a grace period after a refresh, so
  a repeat with it gets another new token; the one we never saw simply expires;
- ``release_token`` and every ``disconnect`` (a call, a participant, the conference, a
  breakout): the end state is the same however often it is asked for;
- ``ack``: starts media on a call that exists, with the same SDP; media already started stays
  started;
- ``new_candidate``: ICE ignores a candidate it already has (RFC 8445: a redundant candidate);
- state setters, which set a value rather than add one: ``mute``/``unmute``,
  ``video_muted``/``video_unmuted``, ``client_mute``/``client_unmute``, ``lock``/``unlock``,
  ``muteguests``/``unmuteguests``, ``spotlighton``/``spotlightoff``, ``buzz``/``clearbuzz``,
  ``allowrxpresentation``/``denyrxpresentation``, ``overlaytext``, ``role``, ``layout_group``,
  ``transform_layout``, ``set_message_text`` and the other ``set_*``, ``release_floor``,
  ``statistics`` (a report of the current figures) and the rest of :data:`IDEMPOTENT_POSTS`.

Not idempotent (a 5xx or a timeout raises the typed error at once, saying it was not retried
and, after a timeout, that the node may have carried it out): ``request_token`` (a second
participant), ``calls`` (a second call), ``update`` (another offer/answer round), ``message``
(the chat line twice), ``dtmf`` and ``fecc`` (digits or a camera move twice), ``dial``,
``breakouts``, ``transfer``, ``take_floor``, and any POST this module does not name.

Every request, idempotent or not, is retried when it provably never reached the node (the
connection was refused or the name did not resolve): nothing can have been carried out.

Bounds: ``attempts`` sends in all, capped exponential backoff between them, and one
``deadline`` for the whole request, sleeps included; each send also has the transport's
timeout. So a request ends within ``deadline`` (plus at most one send's timeout), never hangs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from .backoff import Backoff

__all__ = [
    "IDEMPOTENT_POSTS",
    "NO_RETRY",
    "Failure",
    "RejoinPolicy",
    "RetryPolicy",
    "RetryStats",
    "Verdict",
    "is_idempotent",
]

#: the last path segment of every POST that may be repeated (see the module docstring)
IDEMPOTENT_POSTS = frozenset(
    {
        "refresh_token",
        "release_token",
        "disconnect",
        "ack",
        "new_candidate",
        "mute",
        "unmute",
        "video_muted",
        "video_unmuted",
        "client_mute",
        "client_unmute",
        "lock",
        "unlock",
        "muteguests",
        "unmuteguests",
        "set_guests_can_unmute",
        "spotlighton",
        "spotlightoff",
        "clearspotlights",
        "buzz",
        "clearbuzz",
        "clearallbuzz",
        "breakoutbuzz",
        "clearbreakoutbuzz",
        "allowrxpresentation",
        "denyrxpresentation",
        "show_live_captions",
        "hide_live_captions",
        "overlaytext",
        "pres_in_mix",
        "role",
        "layout_group",
        "preferred_aspect_ratio",
        "send_to_audio_mixes",
        "receive_from_audio_mix",
        "transform_layout",
        "silent_video_detection",
        "set_message_text",
        "set_pinning_config",
        "set_classification_level",
        "start_conference",
        "release_floor",
        "statistics",
    }
)


def is_idempotent(method: str, path: str) -> bool:
    """Whether sending ``method path`` twice leaves the conference as sending it once."""
    if method.upper() in ("GET", "HEAD"):
        return True
    if method.upper() != "POST":
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last in IDEMPOTENT_POSTS


class Failure(enum.Enum):
    """How one send failed, as far as retrying is concerned."""

    #: no connection was made (refused, unresolvable): the node never saw the request
    UNREACHED = "unreached"
    #: no answer within the timeout: the node may have carried it out
    TIMEOUT = "timeout"
    #: the connection broke mid-exchange: the node may have carried it out
    BROKEN = "broken"
    #: a 5xx answer: the node may have failed after acting
    SERVER_ERROR = "5xx"


#: statuses worth another try for an idempotent request
RETRY_STATUSES = frozenset({500, 502, 503, 504, 529})


@dataclass(frozen=True, slots=True)
class Verdict:
    retry: bool
    #: why not, for the error message ("" when retrying)
    why: str = ""


@dataclass(frozen=True)
class RetryPolicy:
    """``attempts`` sends at most, ``initial``..``maximum`` s of backoff, ``deadline`` s in all."""

    attempts: int = 3
    initial: float = 0.2
    maximum: float = 2.0
    deadline: float = 20.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1 (got {self.attempts})")
        if not self.deadline > 0:
            raise ValueError(f"deadline must be > 0 s (got {self.deadline})")
        Backoff(initial=self.initial, maximum=self.maximum)  # validates the delays

    def backoff(self) -> Backoff:
        """A fresh schedule for one request."""
        return Backoff(initial=self.initial, maximum=self.maximum)

    def decide(
        self,
        method: str,
        path: str,
        failure: Failure,
        *,
        attempt: int,
        elapsed: float,
        delay: float,
    ) -> Verdict:
        """After send number ``attempt`` failed ``elapsed`` s into the request: send again after
        ``delay`` s, or stop (and why)."""
        if failure is not Failure.UNREACHED and not is_idempotent(method, path):
            return Verdict(
                False, f"not retried: {method} {path or '(conference)'} is not idempotent"
            )
        if attempt >= self.attempts:
            return Verdict(False, f"{attempt} attempts")
        if elapsed + delay >= self.deadline:
            return Verdict(
                False, f"{attempt} attempts in {elapsed:.1f} s (deadline {self.deadline:g} s)"
            )
        return Verdict(True)


NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class RejoinPolicy:
    """Up to ``attempts`` joins after each loss of the node, ``initial``..``maximum`` s apart
    (jittered); used by :mod:`pexbot.session.rejoin` (``Session(rejoin=...)``)."""

    attempts: int = 5
    initial: float = 1.0
    maximum: float = 30.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"rejoin attempts must be >= 1 (got {self.attempts})")
        self.backoff()  # validates the delays

    def backoff(self) -> Backoff:
        return Backoff(initial=self.initial, maximum=self.maximum, jitter=self.jitter)


@dataclass
class RetryStats:
    """What one transport's requests went through (for tests, figures and status lines)."""

    #: requests asked for
    requests: int = 0
    #: sends that failed (timeout, broken, unreached, 5xx)
    failures: int = 0
    #: sends repeated after a failure
    retried: int = 0
    #: requests that succeeded only after a retry
    recovered: int = 0
    #: requests that ended in an error after a failure (retried or not)
    gave_up: int = 0
    #: failures by kind
    by_kind: dict[str, int] = field(default_factory=dict)

    def failed(self, failure: Failure) -> None:
        self.failures += 1
        self.by_kind[failure.value] = self.by_kind.get(failure.value, 0) + 1
