"""Session tokens and one-time join tickets (pure: every method is fed ``now``).

Tokens are opaque random strings. Each belongs to exactly one participant and is valid until
its ``expires_at``. ``refresh`` issues a new token and shortens the old one to ``now + grace``:
requests already in flight with the old token (the official client sends several at once) still
succeed for a few seconds, after which only the new token works. ``release`` and ``revoke_all``
end every token of a participant at once.

Tickets are the one-time ``token`` values of ``request_token`` bodies: handed out in ``refer``
events (transfer), by ``request_guest_token`` (breakouts) and by the SSO page. A ticket works
once and names where it leads.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class TokenRecord:
    participant_uuid: str
    expires_at: float
    lifetime: float
    superseded: bool = False


class TokenStore:
    def __init__(self, *, grace: float) -> None:
        self._grace = grace
        self._tokens: dict[str, TokenRecord] = {}
        self._by_participant: dict[str, set[str]] = {}

    def issue(self, participant_uuid: str, lifetime: float, now: float) -> str:
        token = new_secret()
        self._tokens[token] = TokenRecord(participant_uuid, now + lifetime, lifetime)
        self._by_participant.setdefault(participant_uuid, set()).add(token)
        return token

    def lookup(self, token: str | None, now: float) -> TokenRecord | None:
        """The record of a token that is still valid, else None."""
        if not token:
            return None
        record = self._tokens.get(token)
        if record is None or record.expires_at <= now:
            return None
        return record

    def refresh(self, token: str, now: float) -> tuple[str, TokenRecord] | None:
        record = self.lookup(token, now)
        if record is None:
            return None
        new = self.issue(record.participant_uuid, record.lifetime, now)
        if not record.superseded:
            record.superseded = True
            record.expires_at = min(record.expires_at, now + self._grace)
        return new, self._tokens[new]

    def revoke_all(self, participant_uuid: str) -> None:
        for token in self._by_participant.pop(participant_uuid, set()):
            self._tokens.pop(token, None)

    def expire_early(self, participant_uuid: str, now: float) -> None:
        """Fault injection: every token of the participant stops working now."""
        for token in self._by_participant.get(participant_uuid, set()):
            self._tokens[token].expires_at = now

    def latest_expiry(self, participant_uuid: str) -> float | None:
        tokens = self._by_participant.get(participant_uuid)
        if not tokens:
            return None
        return max(self._tokens[t].expires_at for t in tokens)

    def expired_participants(self, now: float) -> list[str]:
        """Participants none of whose tokens is valid any more (their session is over)."""
        out = []
        for uuid, tokens in self._by_participant.items():
            if all(self._tokens[t].expires_at <= now for t in tokens):
                out.append(uuid)
        return out

    def prune(self, now: float) -> None:
        """Forget superseded tokens past their grace (keeps memory bounded across refreshes)."""
        for tokens in self._by_participant.values():
            dead = {
                t
                for t in tokens
                if self._tokens[t].superseded and self._tokens[t].expires_at <= now
            }
            if dead and dead != tokens:
                for t in dead:
                    self._tokens.pop(t, None)
                tokens -= dead

    def __len__(self) -> int:
        return len(self._tokens)


@dataclass(frozen=True)
class Ticket:
    """Where a one-time join token leads."""

    conference_id: str
    role: str  # "HOST" | "GUEST"
    breakout_uuid: str | None = None
    idp_uuid: str | None = None  # SSO tickets: the participant is IdP-authenticated
    kind: str = "transfer"  # "transfer" | "breakout" | "sso"


@dataclass
class _TicketEntry:
    ticket: Ticket
    expires_at: float


@dataclass
class TicketStore:
    lifetime: float = 300.0
    _tickets: dict[str, _TicketEntry] = field(default_factory=dict)

    def issue(self, ticket: Ticket, now: float) -> str:
        self._purge(now)
        secret = new_secret()
        self._tickets[secret] = _TicketEntry(ticket, now + self.lifetime)
        return secret

    def peek(self, secret: str, now: float) -> Ticket | None:
        entry = self._tickets.get(secret)
        if entry is None or entry.expires_at <= now:
            return None
        return entry.ticket

    def take(self, secret: str, now: float) -> Ticket | None:
        ticket = self.peek(secret, now)
        if ticket is not None:
            del self._tickets[secret]
        return ticket

    def _purge(self, now: float) -> None:
        for secret in [s for s, e in self._tickets.items() if e.expires_at <= now]:
            del self._tickets[secret]
