"""The recovery policy, pure: when a call restarts its connection, fed ``now``."""

from __future__ import annotations

import itertools

from pexbot.rtc.restart import RecoveryOptions, RecoveryPolicy, Verdict


def flowing(policy: RecoveryPolicy, start: float, until: float, rate: int = 10) -> int:
    """Packets arriving from ``start`` to ``until`` every 0.5 s; returns the count."""
    packets, t = 0, start
    while t <= until:
        packets += rate
        policy.observe(t, ice_state="completed", packets_in=packets)
        assert policy.verdict(t) is Verdict.OK
        t += 0.5
    return packets


def test_stalled_media_restarts_then_retries_with_capped_backoff() -> None:
    policy = RecoveryPolicy()
    policy.new_connection(0.0, ours=True)
    packets = flowing(policy, 0.0, 5.0)
    # nothing arrives from 5.0 on: trouble once 2 s passed without a new packet
    restarts: list[float] = []
    t = 5.5
    while t < 20.0:
        policy.observe(t, ice_state="completed", packets_in=packets)
        if policy.verdict(t) is Verdict.RESTART:
            restarts.append(t)
            policy.new_connection(t, ours=True)
        t = round(t + 0.1, 2)
    assert restarts[0] == 7.0 and policy.reason.startswith("no media")
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(restarts)]
    assert gaps[0] >= 1.0 and max(gaps) <= 2.1  # grows, capped: never a tight loop
    assert gaps == sorted(gaps)


def test_media_back_ends_the_recovery() -> None:
    policy = RecoveryPolicy()
    policy.new_connection(0.0, ours=True)
    packets = flowing(policy, 0.0, 2.0)
    policy.observe(4.5, ice_state="completed", packets_in=packets)
    assert policy.verdict(4.5) is Verdict.RESTART and policy.recovering
    policy.new_connection(4.6, ours=True)
    policy.observe(5.0, ice_state="completed", packets_in=packets + 5)  # new connection: first
    policy.observe(5.5, ice_state="completed", packets_in=packets + 10)
    assert not policy.recovering and policy.reason == ""
    assert policy.verdict(5.5) is Verdict.OK


def test_ice_failed_restarts_at_once_and_disconnected_after_grace() -> None:
    policy = RecoveryPolicy()
    policy.new_connection(0.0, ours=True)
    policy.observe(1.0, ice_state="failed", packets_in=0)
    assert policy.verdict(1.0) is Verdict.RESTART and policy.reason == "ICE failed"

    policy = RecoveryPolicy()
    policy.new_connection(0.0, ours=True)
    policy.observe(1.0, ice_state="disconnected", packets_in=0)
    assert policy.verdict(2.5) is Verdict.OK
    policy.observe(2.9, ice_state="completed", packets_in=0)  # recovered in time
    assert policy.verdict(3.5) is Verdict.OK
    policy.observe(4.0, ice_state="disconnected", packets_in=0)
    policy.observe(6.0, ice_state="disconnected", packets_in=0)
    assert policy.verdict(6.0) is Verdict.RESTART


def test_follower_waits_for_the_leader() -> None:
    options = RecoveryOptions(follower_grace=2.5)
    policy = RecoveryPolicy(options, leader=False)
    policy.new_connection(0.0, ours=False)
    packets = flowing(policy, 0.0, 3.0)
    policy.observe(5.0, ice_state="completed", packets_in=packets)
    assert policy.verdict(5.0) is Verdict.OK  # trouble noticed at 5.0; the leader acts first
    policy.new_connection(5.5, ours=False)  # ...and so it does: its restart reaches us
    assert policy.verdict(7.5) is Verdict.OK
    policy.new_connection(7.5, ours=False)
    assert policy.verdict(9.9) is Verdict.OK
    # the leader went quiet: the follower restarts itself
    assert policy.verdict(10.1) is Verdict.RESTART


def test_an_attempt_through_ice_gets_time_and_silence_after_negotiation_counts() -> None:
    policy = RecoveryPolicy()
    policy.new_connection(0.0, ours=True)
    assert policy.verdict(9.0) is Verdict.OK
    assert policy.verdict(10.0) is Verdict.RESTART  # no media 10 s after negotiation
    policy.new_connection(10.0, ours=True)
    policy.observe(10.4, ice_state="completed", packets_in=0)
    assert policy.verdict(11.5) is Verdict.OK  # through ICE: DTLS gets its time
    assert policy.verdict(12.5) is Verdict.RESTART


def test_give_up_and_idle() -> None:
    policy = RecoveryPolicy(RecoveryOptions(give_up_after=5.0))
    policy.new_connection(0.0, ours=True)
    policy.observe(0.5, ice_state="failed", packets_in=0)
    assert policy.verdict(0.5) is Verdict.RESTART
    policy.attempt_failed(0.6)
    assert policy.verdict(5.6) is Verdict.GIVE_UP
    policy.idle()  # waiting for a far end: nothing to watch
    assert not policy.recovering and policy.verdict(100.0) is Verdict.OK
    disabled = RecoveryPolicy(RecoveryOptions(enabled=False))
    disabled.new_connection(0.0, ours=True)
    disabled.observe(1.0, ice_state="failed", packets_in=0)
    assert disabled.verdict(50.0) is Verdict.OK
