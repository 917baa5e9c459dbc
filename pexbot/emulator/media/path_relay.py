"""Path faults for direct media: emulator-owned UDP ports standing in for ICE candidates.

Direct media normally flows peer to peer and the emulator never sees a packet. To break and
restore that path on demand (``emu.faults.block_path``), a conference with
``direct_media_relay: true`` has its candidates rewritten while they are brokered: every
candidate one peer advertises to the other (``a=candidate`` lines of forwarded SDPs and
``new_candidate`` events) gets the address of a relay port the emulator owns on 127.0.0.1,
which forwards datagrams to the real address and the replies back. Nothing is mocked: ICE
checks, DTLS and RTP really cross these sockets. **With the relay on, media does pass through
the emulator** (these sockets, never a media backend): it is test harness, off by default.

Design, per advertised candidate (a :class:`_RelayPort`):

- a *front* socket: the address the far end is told; whatever arrives there is forwarded to
  the candidate's real address;
- one *back* socket per far-end source address, created on that source's first datagram: it
  sends to the real address, and what the real address sends back to it goes out of the front
  socket to exactly that source. A symmetric NAT, so every request gets its reply on the path
  it came from; the candidate's owner sees back sockets as peer-reflexive candidates.

Only IPv4 UDP candidates can be relayed; the others (TCP, IPv6, mDNS hostnames) are left out of
what the far end sees, so no path escapes the relay.

Faults apply per *scope* (a conference): ``blocked`` drops every datagram both ways on every
port of the scope, present and future (an ICE restart's new candidates get new ports under the
same rule); ``loss_percent`` drops that share at random (the packet-loss seam), and an
:class:`~.impairment.Impairment` (``PathState.impairment``) adds delay and jitter: a held
datagram is sent by a timer of its port (``loop.call_later``), cancelled when the port closes.
Sockets are plain non-blocking ones read with ``loop.add_reader``: no tasks, nothing to await;
``close`` releases everything.

The same relay can stand in front of the emulator's *own* media ports (transcoded calls):
:mod:`.impaired_path` rewrites the candidates of both ends of every call, which puts the
impairment of ``Emulator(media_impairment=...)`` on the transcoded path.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from pexbot.errors import PexbotError

from .impairment import Impairment, rtcp_feedback

log = logging.getLogger(__name__)

Address = tuple[str, int]
_DRAIN_LIMIT = 64  # datagrams read per wake-up: a busy port cannot starve the others


class PathRelayError(PexbotError):
    """The relay was asked for a port after it was closed."""


@dataclass
class PathCounters:
    forwarded_packets: int = 0
    forwarded_bytes: int = 0
    dropped_packets: int = 0
    delayed_packets: int = 0  # of the forwarded, those held by a delay or jitter
    #: RTCP feedback seen crossing (either way, before any loss): repairs asked
    nacks: int = 0
    plis: int = 0


@dataclass
class PathState:
    """The fault settings and counters of one scope."""

    blocked: bool = False
    loss_percent: float = 0.0  # on top of the impairment's own loss
    impairment: Impairment = field(default_factory=Impairment)
    counters: PathCounters = field(default_factory=PathCounters)

    def hold(self, rng: random.Random) -> float | None:
        """Seconds to hold a datagram before sending it; None: dropped."""
        if self.blocked or (self.loss_percent > 0 and rng.random() * 100 < self.loss_percent):
            return None
        return self.impairment.decide(rng)

    def admit(self, rng: random.Random) -> bool:
        return self.hold(rng) is not None


# -- candidates (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateAddress:
    transport: str  # "udp" / "tcp" (lower case)
    address: str
    port: int


def candidate_address(candidate: str) -> CandidateAddress | None:
    """Transport, address and port of an ICE candidate (``a=``/``candidate:`` prefix optional)."""
    text = candidate.strip()
    text = text.removeprefix("a=").removeprefix("candidate:")
    parts = text.split()
    if len(parts) < 6:
        return None
    try:
        port = int(parts[5])
    except ValueError:
        return None
    return CandidateAddress(parts[2].lower(), parts[4], port)


def relayable(where: CandidateAddress) -> bool:
    if where.transport != "udp":
        return False
    try:
        return isinstance(ipaddress.ip_address(where.address), ipaddress.IPv4Address)
    except ValueError:  # an mDNS hostname
        return False


def rewrite_candidate(candidate: str, relay_for: Callable[[Address], Address]) -> str | None:
    """The candidate with its address replaced by ``relay_for(address)``; None when it cannot
    be relayed (it must not reach the far end). End-of-candidates (``""``) passes unchanged."""
    if not candidate.strip():
        return candidate
    where = candidate_address(candidate)
    if where is None or not relayable(where):
        return None
    prefix, body = "", candidate.strip()
    for known in ("a=candidate:", "candidate:"):
        if body.startswith(known):
            prefix, body = known, body[len(known) :]
            break
    parts = body.split()
    new_address, new_port = relay_for((where.address, where.port))
    parts[4], parts[5] = new_address, str(new_port)
    return prefix + " ".join(parts)


def rewrite_sdp(sdp: str, relay_for: Callable[[Address], Address]) -> str:
    """Every ``a=candidate`` line rewritten (or dropped when it cannot be relayed)."""
    newline = "\r\n" if "\r\n" in sdp else "\n"
    out = []
    for line in sdp.split(newline):
        if line.startswith("a=candidate:"):
            rewritten = rewrite_candidate(line, relay_for)
            if rewritten is None:
                continue
            line = rewritten
        out.append(line)
    return newline.join(out)


# -- sockets ------------------------------------------------------------------------------------


def _udp_socket(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind((host, 0))
    except BaseException:
        sock.close()
        raise
    return sock


def _drain(sock: socket.socket) -> list[tuple[bytes, Address]]:
    out: list[tuple[bytes, Address]] = []
    for _ in range(_DRAIN_LIMIT):
        try:
            data, source = sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            break
        except OSError:  # ICMP errors surface here on Linux (port unreachable): skip them
            continue
        out.append((data, (source[0], source[1])))
    return out


class _RelayPort:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        host: str,
        target: Address,
        state: PathState,
        rng: random.Random,
        max_sources: int,
    ) -> None:
        self.target = target
        self._loop = loop
        self._host = host
        self._state = state
        self._rng = rng
        self._max_sources = max_sources
        self._front = _udp_socket(host)
        self.address: Address = self._front.getsockname()[:2]
        self._backs: dict[Address, socket.socket] = {}
        self._held: set[asyncio.TimerHandle] = set()
        self._closed = False
        loop.add_reader(self._front.fileno(), self._from_far_end)

    def _from_far_end(self) -> None:
        for data, source in _drain(self._front):
            back = self._backs.get(source) or self._open_back(source)
            if back is None:
                self._state.counters.dropped_packets += 1
                continue
            self._pass(back, data, self.target)

    def _open_back(self, source: Address) -> socket.socket | None:
        if self._closed or len(self._backs) >= self._max_sources:
            return None
        back = _udp_socket(self._host)
        self._backs[source] = back
        self._loop.add_reader(back.fileno(), self._from_owner, back, source)
        return back

    def _from_owner(self, back: socket.socket, source: Address) -> None:
        for data, sender in _drain(back):
            if sender == self.target:  # anything else is a stray: not part of this path
                self._pass(self._front, data, source)

    def _pass(self, sock: socket.socket, data: bytes, to: Address) -> None:
        feedback = rtcp_feedback(data)
        if feedback == "nack":
            self._state.counters.nacks += 1
        elif feedback == "pli":
            self._state.counters.plis += 1
        held = self._state.hold(self._rng)
        if held is None:
            self._state.counters.dropped_packets += 1
        elif held <= 0:
            self._send(sock, data, to)
        else:
            self._state.counters.delayed_packets += 1
            handle: asyncio.TimerHandle | None = None

            def later() -> None:
                assert handle is not None
                self._held.discard(handle)
                self._send(sock, data, to)

            handle = self._loop.call_later(held, later)
            self._held.add(handle)

    def _send(self, sock: socket.socket, data: bytes, to: Address) -> None:
        counters = self._state.counters
        if self._closed:
            return
        try:
            sock.sendto(data, to)
        except OSError:  # buffer full or unreachable: a lost datagram, as on a real path
            counters.dropped_packets += 1
            return
        counters.forwarded_packets += 1
        counters.forwarded_bytes += len(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for handle in self._held:
            handle.cancel()
        self._held.clear()
        for sock in [self._front, *self._backs.values()]:
            self._loop.remove_reader(sock.fileno())
            sock.close()
        self._backs.clear()


@dataclass(frozen=True)
class RelayedPort:
    """One relay port as seen from outside (``PathRelay.ports``)."""

    owner: str  # whose candidate it stands for (the emulator's call uuid of that leg)
    target: Address  # the candidate's real address
    address: Address  # what the far end was told


class PathRelay:
    """All relay ports of one emulator, grouped by scope (conference id) and owner (call)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        rng: random.Random | None = None,
        max_sources_per_port: int = 16,
        max_ports_per_scope: int = 256,  # beyond: the oldest port of the scope is closed
        impairment: Impairment | None = None,  # every scope's, until set_path changes it
    ) -> None:
        self._impairment = impairment or Impairment()
        self._host = host
        self._rng = rng or random.Random()
        self._max_sources = max_sources_per_port
        self._max_ports = max_ports_per_scope
        self._states: dict[str, PathState] = {}
        self._ports: dict[str, dict[tuple[str, Address], _RelayPort]] = {}
        self._closed = False

    def state(self, scope: str) -> PathState:
        state = self._states.get(scope)
        if state is None:
            state = self._states[scope] = PathState(impairment=self._impairment)
        return state

    def set_path(
        self,
        scope: str,
        *,
        blocked: bool | None = None,
        loss_percent: float | None = None,
        impairment: Impairment | None = None,
    ) -> PathState:
        if loss_percent is not None and not 0 <= loss_percent <= 100:
            raise ValueError(f"loss_percent must be within 0..100, not {loss_percent}")
        state = self.state(scope)
        if blocked is not None:
            state.blocked = blocked
        if impairment is not None:
            state.impairment = impairment
        if loss_percent is not None:
            state.loss_percent = float(loss_percent)
        return state

    def clear_faults(self) -> None:
        for state in self._states.values():
            state.blocked, state.loss_percent = False, 0.0
            state.impairment = self._impairment

    def ports(self, scope: str) -> list[RelayedPort]:
        return [
            RelayedPort(owner, port.target, port.address)
            for (owner, _), port in self._ports.get(scope, {}).items()
        ]

    def rewrite_sdp(self, scope: str, owner: str, sdp: str) -> str:
        return rewrite_sdp(sdp, lambda address: self._relay_for(scope, owner, address))

    def rewrite_candidate(self, scope: str, owner: str, candidate: str) -> str | None:
        return rewrite_candidate(candidate, lambda address: self._relay_for(scope, owner, address))

    def _relay_for(self, scope: str, owner: str, target: Address) -> Address:
        if self._closed:
            raise PathRelayError("the path relay is closed")
        ports = self._ports.setdefault(scope, {})
        port = ports.get((owner, target))
        if port is None:
            if len(ports) >= self._max_ports:
                # Each ICE restart brings new candidates: the oldest ports are long dead.
                ports.pop(next(iter(ports))).close()
            port = _RelayPort(
                asyncio.get_running_loop(),
                self._host,
                target,
                self.state(scope),
                self._rng,
                self._max_sources,
            )
            ports[(owner, target)] = port
            log.debug("relay %s:%d stands for %s:%d", *port.address, *target)
        return port.address

    def release(self, scope: str, owner: str | None = None) -> None:
        """Close the ports of one owner (a call that ended), or of the whole scope."""
        ports = self._ports.get(scope, {})
        for key in [k for k in ports if owner is None or k[0] == owner]:
            ports.pop(key).close()
        if not ports:
            self._ports.pop(scope, None)

    def close(self) -> None:
        self._closed = True
        for scope in list(self._ports):
            self.release(scope)
