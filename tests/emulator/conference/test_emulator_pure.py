"""The pure parts, without sockets: tokens, PIN rules, policy table, config, null media."""

from __future__ import annotations

import pytest

from pexbot import wire
from pexbot.emulator import ConferenceConfig, EmulatorConfig
from pexbot.emulator.conference.admission import INVALID_PIN, decide_role
from pexbot.emulator.conference.model import ForbiddenError, Participant
from pexbot.emulator.conference.policy import Rule, check, rule_for
from pexbot.emulator.conference.tokens import Ticket, TicketStore, TokenStore
from pexbot.emulator.config import config_from_dict
from pexbot.emulator.media.backend import reject_all_answer
from pexbot.errors import ConfigError

V = wire.Version(version_id="1")


def test_token_lifecycle_fed_now() -> None:
    store = TokenStore(grace=5)
    t1 = store.issue("p", 120, now=0)
    assert store.lookup(t1, 119.9) is not None and store.lookup(t1, 120) is None
    refreshed = store.refresh(t1, now=10)
    assert refreshed is not None
    t2, record = refreshed
    assert t2 != t1 and record.expires_at == 130
    assert store.lookup(t1, 14.9) is not None  # grace
    assert store.lookup(t1, 15) is None
    assert store.expired_participants(100) == []  # t2 still valid
    store.prune(20)
    assert len(store) == 1
    assert store.expired_participants(130) == ["p"]
    store.expire_early("p", now=50)
    assert store.lookup(t2, 50) is None
    store.revoke_all("p")
    assert len(store) == 0 and store.refresh(t2, 0) is None


def test_tickets_are_one_time_and_expire() -> None:
    tickets = TicketStore(lifetime=10)
    secret = tickets.issue(Ticket("c", "GUEST"), now=0)
    assert tickets.peek(secret, 5) == Ticket("c", "GUEST")
    assert tickets.take(secret, 5) is not None and tickets.take(secret, 5) is None
    late = tickets.issue(Ticket("c", "HOST"), now=0)
    assert tickets.take(late, 10) is None


@pytest.mark.parametrize(
    ("host", "guest", "pin", "outcome"),
    [
        (None, None, None, "HOST"),
        (None, None, "whatever", "HOST"),
        ("1", None, "1", "HOST"),
        ("1", None, "none", "GUEST"),
        ("1", None, None, {"pin": "required", "guest_pin": "none"}),
        ("1", None, "2", INVALID_PIN),
        ("1", "2", "1", "HOST"),
        ("1", "2", "2", "GUEST"),
        ("1", "2", None, {"pin": "required", "guest_pin": "required"}),
        ("1", "2", "none", {"pin": "required", "guest_pin": "required"}),
        ("1", "2", "3", INVALID_PIN),
    ],
)
def test_pin_table(host: str | None, guest: str | None, pin: str | None, outcome: object) -> None:
    conf = ConferenceConfig(aliases=["x"], host_pin=host, guest_pin=guest)
    if isinstance(outcome, str) and outcome in ("HOST", "GUEST"):
        assert decide_role(conf, pin, V, None) == outcome
        return
    with pytest.raises(ForbiddenError) as caught:
        decide_role(conf, pin, V, None)
    assert caught.value.status == "success"
    if isinstance(outcome, dict):
        assert caught.value.result == {**outcome, "version": {"version_id": "1"}}
    else:
        assert caught.value.result == outcome


def _p(uuid: str, role: str, control_of: str | None = None) -> Participant:
    return Participant(uuid, uuid, role, "c", "c", "conference", 0, control_of=control_of)  # type: ignore[arg-type]


def test_policy_table() -> None:
    host, guest, other = _p("h", "HOST"), _p("g", "GUEST"), _p("o", "GUEST")
    assert rule_for("conference.dial") is Rule.HOST
    assert rule_for("breakout.participant.mute") is Rule.HOST
    assert rule_for("participant.call.ack") is Rule.SELF
    assert rule_for("participant.mute") is Rule.SELF_OR_HOST
    assert rule_for("conference.participants") is Rule.ANY
    with pytest.raises(ForbiddenError, match="Hosts only"):
        check("conference.lock", guest, None)
    check("conference.lock", host, None)
    check("participant.mute", guest, guest)
    check("participant.mute", host, other)
    with pytest.raises(ForbiddenError, match="themselves"):
        check("participant.mute", guest, other)
    with pytest.raises(ForbiddenError, match="own participant"):
        check("participant.calls", host, other)
    check("participant.calls", host, _p("ctl", "HOST", control_of="h"))
    check("participant.message", guest, other)


def test_config_validation() -> None:
    assert config_from_dict({}).default_vmr is True
    for bad, words in [
        ({"conferences": [{"aliases": ["a"], "guest_pin": "1"}]}, "guest_pin needs a host_pin"),
        ({"conferences": [{"aliases": ["a"]}, {"aliases": ["A"]}]}, "used by two conferences"),
        (
            {"conferences": [{"aliases": ["v"], "virtual_reception": True, "targets": ["zz"]}]},
            "unknown alias",
        ),
        ({"conferences": [{"aliases": ["a"], "host_pni": "1"}]}, "host_pni"),
        ({"token_lifetime": 0}, "token_lifetime"),
        ([], "JSON object"),
    ]:
        with pytest.raises(ConfigError, match=words):
            config_from_dict(bad)
    assert EmulatorConfig().lifetime_of(ConferenceConfig(aliases=["a"], token_lifetime=5)) == 5


def test_null_answer_rejects_every_m_line() -> None:
    offer = (
        "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 0\r\na=mid:0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=content:slides\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:2\r\n"
    )
    answer = reject_all_answer(offer)
    m_lines = [line for line in answer.split("\r\n") if line.startswith("m=")]
    assert m_lines == [
        "m=audio 0 UDP/TLS/RTP/SAVPF 111",
        "m=video 0 UDP/TLS/RTP/SAVPF 96",
        "m=application 0 UDP/DTLS/SCTP webrtc-datachannel",
    ]
    assert [line for line in answer.split("\r\n") if line.startswith("a=mid:")] == [
        "a=mid:0",
        "a=mid:1",
        "a=mid:2",
    ]
