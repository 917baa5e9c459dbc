"""When a media call restarts its connection: the recovery policy, pure (fed ``now``).

aiortc cannot restart ICE and only notices a dead path after ~30 s of failed consent checks,
so the call watches for itself, the way Pexip's client does (official-client-flow.md §10):

- ICE ``failed``: restart at once;
- ICE ``disconnected`` for ``disconnected_grace`` (2 s) without recovering: restart;
- inbound RTP packets not increasing for ``stall_timeout`` (2 s) after media had flowed on
  this connection: restart (aiortc's ICE keeps saying ``completed`` for ~30 s on a dead path).

A restart builds a new peer connection and offers it (fresh ICE credentials) through
``update``. While the path stays dead each attempt fails too: a new one starts when the last
has not connected within the current retry delay, which grows from ``retry_initial`` to
``retry_max`` (1 s → 2 s by default, never a tight loop). Short attempts are what bring media
back quickly once the path returns: aioice retransmits a check 0.5, 1.5, 3.5 s... after an
attempt starts, so a young attempt (or the next one) gets through within ~2 s.

In direct media both ends notice at once; two restarts crossing would collide (glare). So one
end *leads* (the one whose offer set the call up) and the other *follows*: it waits
``follower_grace`` more before restarting itself, and any fresh offer from the far end (its
restart) counts as an attempt it did not have to make.

After ``give_up_after`` seconds without media the policy says so; the call then ends
(``None`` disables it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class RecoveryOptions:
    enabled: bool = True
    disconnected_grace: float = 2.0
    stall_timeout: float = 2.0
    #: a new connection that has carried no media this long after it was negotiated failed
    connect_timeout: float = 10.0
    retry_initial: float = 1.0
    retry_max: float = 2.0
    retry_factor: float = 1.25
    #: extra wait of the following end of a direct-media call
    follower_grace: float = 2.5
    give_up_after: float | None = 120.0


class Verdict(StrEnum):
    OK = "ok"
    RESTART = "restart"
    GIVE_UP = "give up"


class RecoveryPolicy:
    """Decides, from what the call observes, when to start a new connection attempt.

    Call :meth:`new_connection` whenever a connection is negotiated (by either end),
    :meth:`observe` with each sample, and act on :meth:`verdict`.
    """

    def __init__(self, options: RecoveryOptions | None = None, *, leader: bool = True) -> None:
        self.options = options or RecoveryOptions()
        self.leader = leader
        #: why the call is recovering ("" when it is not)
        self.reason = ""
        self._since: float | None = None  # trouble noticed at; None: media is fine
        self._attempt_at: float | None = None  # the current connection was negotiated at
        self._own_attempts = 0  # attempts we made since the trouble began
        self._retry_delay = self.options.retry_initial
        self._flowed = False
        self._failed = False
        self._packets = -1
        self._packets_at = 0.0
        self._disconnected_at: float | None = None
        self._connected_at: float | None = None  # the current connection's ICE completed at

    def __repr__(self) -> str:
        role = "leader" if self.leader else "follower"
        return f"RecoveryPolicy({role}, reason={self.reason!r})"

    @property
    def recovering(self) -> bool:
        return self._since is not None

    def new_connection(self, now: float, *, ours: bool) -> None:
        """A connection was negotiated: ``ours`` if we offered it, else the far end did."""
        if self._since is not None and ours:
            self._own_attempts += 1
            if self._own_attempts > 1:
                self._retry_delay = min(
                    self.options.retry_max, self._retry_delay * self.options.retry_factor
                )
        self._attempt_at = now
        self._flowed = self._failed = False
        self._packets = -1
        self._packets_at = now
        self._disconnected_at = None
        self._connected_at = None

    def attempt_failed(self, now: float) -> None:
        """An attempt of ours could not even be negotiated: the next after the retry delay."""
        self.new_connection(now, ours=True)

    def idle(self) -> None:
        """No connection to watch (waiting for a direct-media peer): forget everything."""
        self._since = None
        self.reason = ""
        self._attempt_at = None
        self._own_attempts = 0
        self._retry_delay = self.options.retry_initial

    def observe(self, now: float, *, ice_state: str, packets_in: int) -> None:
        """One sample: the connection's ICE state and its inbound RTP packets so far."""
        if ice_state == "disconnected":
            if self._disconnected_at is None:
                self._disconnected_at = now
        else:
            self._disconnected_at = None
        self._failed = ice_state == "failed"
        if ice_state in ("completed", "connected") and self._connected_at is None:
            self._connected_at = now
        if packets_in != self._packets:
            if 0 <= self._packets < packets_in:
                self._flowed = True
                # Media flows: whatever the trouble was, it is over.
                self._since = None
                self.reason = ""
                self._own_attempts = 0
                self._retry_delay = self.options.retry_initial
            self._packets = packets_in
            self._packets_at = now

    def verdict(self, now: float) -> Verdict:
        """RESTART: start an attempt now (then :meth:`new_connection` or
        :meth:`attempt_failed`). GIVE_UP: no media for ``give_up_after``."""
        if not self.options.enabled or self._attempt_at is None:
            return Verdict.OK
        if self._since is None:
            trouble = self._trouble(now)
            if trouble is None:
                return Verdict.OK
            self._since, self.reason = now, trouble
            self._own_attempts = 0
        limit = self.options.give_up_after
        if limit is not None and now - self._since >= limit:
            return Verdict.GIVE_UP
        connected = self._connected_at
        if connected is not None and connected >= self._since:
            if now - connected < self.options.stall_timeout:
                return Verdict.OK  # through ICE: DTLS and the first packets get their time
        last = max(self._since, self._attempt_at)
        if self.leader:
            wait = 0.0 if self._own_attempts == 0 else self._retry_delay
        else:
            # The leading end restarts; step in only when it has gone quiet.
            wait = self.options.follower_grace + (
                0.0 if self._own_attempts == 0 else self._retry_delay
            )
        return Verdict.RESTART if now - last >= wait else Verdict.OK

    def _trouble(self, now: float) -> str | None:
        assert self._attempt_at is not None
        if self._failed:
            return "ICE failed"
        if (
            self._disconnected_at is not None
            and now - self._disconnected_at >= self.options.disconnected_grace
        ):
            return "ICE disconnected"
        if self._flowed and now - self._packets_at >= self.options.stall_timeout:
            return f"no media for {now - self._packets_at:.1f} s"
        if not self._flowed and now - self._attempt_at >= self.options.connect_timeout:
            return f"no media {now - self._attempt_at:.0f} s after negotiation"
        return None
