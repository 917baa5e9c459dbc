"""ConferenceState: roster and re-sync rules (with seeded random sequences), and the rest."""

from __future__ import annotations

import random

import pytest

from pexbot import events as ev
from pexbot import wire
from pexbot.events.state import ConferenceState, RosterDiff
from pexbot.wire.events import LayoutData, SplashScreenData, StageEntry


def person(uuid: str, name: str | None = None, **fields: object) -> wire.Participant:
    return wire.Participant.model_validate({"uuid": uuid, "display_name": name or uuid, **fields})


def create(p: wire.Participant) -> ev.ParticipantCreated:
    return ev.ParticipantCreated(participant=p)


def update(p: wire.Participant) -> ev.ParticipantUpdated:
    return ev.ParticipantUpdated(participant=p)


def uuids(ps: tuple[wire.Participant, ...]) -> set[str]:
    return {p.uuid for p in ps}


def sync(state: ConferenceState, *ps: wire.Participant) -> RosterDiff:
    state.apply(ev.SyncBegin())
    for p in ps:
        assert not state.apply(create(p))
    return state.apply(ev.SyncEnd())


def test_initial_sync_reports_everyone_created_once() -> None:
    state = ConferenceState()
    state.apply(ev.SyncBegin())
    assert state.syncing
    state.apply(create(person("a")))
    state.apply(create(person("b")))
    assert dict(state.roster) == {}  # nothing visible until the swap
    diff = state.apply(ev.SyncEnd())
    assert diff.resync and uuids(diff.created) == {"a", "b"}
    assert not diff.updated and not diff.deleted
    assert set(state.roster) == {"a", "b"} and not state.syncing
    assert state.last_resync == diff


def test_resync_keeps_old_roster_visible_then_swaps_with_a_diff() -> None:
    state = ConferenceState()
    sync(state, person("a"), person("b"), person("c"))
    state.apply(ev.SyncBegin())
    state.apply(create(person("a", "Alice renamed")))
    state.apply(create(person("b")))
    state.apply(create(person("d")))
    assert set(state.roster) == {"a", "b", "c"}
    assert state.roster["a"].display_name == "a"
    diff = state.apply(ev.SyncEnd())
    assert uuids(diff.created) == {"d"}
    assert [p.display_name for p in diff.updated] == ["Alice renamed"]
    assert [p.uuid for p in diff.deleted] == ["c"]
    assert set(state.roster) == {"a", "b", "d"}


def test_updates_and_deletes_during_a_sync_apply_to_the_buffer_and_are_reported_once() -> None:
    state = ConferenceState()
    sync(state, person("a"), person("b"), person("c"))
    state.apply(ev.SyncBegin())
    state.apply(create(person("a")))
    state.apply(create(person("b")))
    # live update of a visible participant: seen at once, not reported again by the swap
    diff = state.apply(update(person("b", muted_name := "B (muted)")))
    assert [p.display_name for p in diff.updated] == [muted_name]
    assert state.roster["b"].display_name == muted_name
    # live delete of a visible participant: reported once, not resurrected
    diff = state.apply(ev.ParticipantDeleted(uuid="c"))
    assert uuids(diff.deleted) == {"c"} and "c" not in state.roster
    # a newcomer that joins and leaves during the sync never shows up
    assert not state.apply(create(person("e")))
    assert not state.apply(ev.ParticipantDeleted(uuid="e"))
    # an update for someone not yet visible is buffered
    assert not state.apply(update(person("f", "F")))
    diff = state.apply(ev.SyncEnd())
    assert uuids(diff.created) == {"f"} and not diff.updated and not diff.deleted
    assert set(state.roster) == {"a", "b", "f"}
    assert state.roster["b"].display_name == muted_name


def test_outside_a_sync_changes_apply_at_once() -> None:
    state = ConferenceState()
    assert uuids(state.apply(create(person("a"))).created) == {"a"}
    assert not state.apply(create(person("a")))  # same object again: no change
    assert uuids(state.apply(create(person("a", "A2"))).updated) == {"a"}  # duplicate create
    assert uuids(state.apply(update(person("z"))).created) == {"z"}  # update of an unknown
    deleted = state.apply(ev.ParticipantDeleted(uuid="a")).deleted
    assert [p.display_name for p in deleted] == ["A2"]  # the last known object
    assert not state.apply(ev.ParticipantDeleted(uuid="nobody"))
    assert set(state.roster) == {"z"}


def test_stream_lost_mid_sync_abandons_the_buffer() -> None:
    state = ConferenceState()
    sync(state, person("a"))
    state.apply(ev.SyncBegin())
    state.apply(create(person("b")))
    state.apply(ev.StreamLost(reason="dropped"))
    assert not state.syncing and set(state.roster) == {"a"}
    diff = sync(state, person("c"))
    assert uuids(diff.created) == {"c"} and uuids(diff.deleted) == {"a"}


def test_sync_end_without_begin_and_nested_begin() -> None:
    state = ConferenceState()
    sync(state, person("a"))
    assert not state.apply(ev.SyncEnd())
    state.apply(ev.SyncBegin())
    state.apply(create(person("x")))
    state.apply(ev.SyncBegin())  # starts over: x is forgotten
    state.apply(create(person("a")))
    diff = state.apply(ev.SyncEnd())
    assert not diff and set(state.roster) == {"a"}


def test_roster_is_read_only() -> None:
    state = ConferenceState()
    sync(state, person("a"))
    try:
        state.roster["b"] = person("b")  # type: ignore[index]
    except TypeError:
        pass
    assert set(state.roster) == {"a"}


class Consumer:
    """Keeps its own roster from diffs only, checking no create/delete is duplicated."""

    def __init__(self) -> None:
        self.view: dict[str, wire.Participant] = {}

    def take(self, diff: RosterDiff) -> None:
        for p in diff.created:
            assert p.uuid not in self.view, f"duplicate create {p.uuid}"
            self.view[p.uuid] = p
        for p in diff.updated:
            assert p.uuid in self.view, f"update of unknown {p.uuid}"
            self.view[p.uuid] = p
        for p in diff.deleted:
            assert p.uuid in self.view, f"delete of unknown {p.uuid}"
            del self.view[p.uuid]


class SimulatedNode:
    """Tracks the true roster and feeds a state + consumer the events a node would send."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.truth: dict[str, wire.Participant] = {}
        self.state = ConferenceState()
        self.consumer = Consumer()
        self.serial = 0

    def feed(self, event: ev.Event) -> None:
        self.consumer.take(self.state.apply(event))
        assert self.consumer.view == dict(self.state.roster)

    def live_change(self, *, connected: bool) -> None:
        self.serial += 1
        roll, truth = self.rng.random(), self.truth
        if roll < 0.4 or not truth:
            p = person(f"p{self.serial}")
            truth[p.uuid] = p
            event: ev.Event = create(p)
        elif roll < 0.7:
            uuid = self.rng.choice(sorted(truth))
            truth[uuid] = p = person(uuid, f"{uuid} v{self.serial}")
            event = update(p)
        else:
            uuid = self.rng.choice(sorted(truth))
            del truth[uuid]
            event = ev.ParticipantDeleted(uuid=uuid)
        if connected:
            self.feed(event)

    def connect_and_sync(self) -> bool:
        """The node's sync, live changes interleaved; False if the stream drops mid-sync."""
        self.feed(ev.SyncBegin())
        pending = sorted(self.truth)
        self.rng.shuffle(pending)
        while pending:
            if self.rng.random() < 0.3:
                self.live_change(connected=True)
            else:
                uuid = pending.pop()
                if uuid in self.truth:
                    self.feed(create(self.truth[uuid]))
        if self.rng.random() < 0.15:
            self.feed(ev.StreamLost(reason="dropped mid-sync"))
            return False
        self.feed(ev.SyncEnd())
        return True


@pytest.mark.parametrize("seed", range(60))
def test_random_sequences_with_drops_and_resyncs_match_the_truth(seed: int) -> None:
    """Live changes, stream drops (changes missed), re-syncs with live changes interleaved.
    After every sync the roster equals the truth; a consumer fed only diffs always equals the
    state's roster, with no duplicate create/delete."""
    node = SimulatedNode(seed)
    for _round in range(node.rng.randint(2, 8)):
        if node.connect_and_sync():
            assert dict(node.state.roster) == node.truth
            for _ in range(node.rng.randint(0, 30)):
                node.live_change(connected=True)
            assert dict(node.state.roster) == node.truth
            node.feed(ev.StreamLost(reason="dropped"))
        for _ in range(node.rng.randint(0, 8)):
            node.live_change(connected=False)
    while not node.connect_and_sync():
        pass
    assert dict(node.state.roster) == node.truth


def test_conference_status_layout_stage() -> None:
    state = ConferenceState()
    status = wire.ConferenceStatus(locked=True, started=True)
    state.apply(ev.ConferenceUpdated(status=status))
    layout = LayoutData(view="1:7", participants=["a"])
    state.apply(ev.LayoutChanged(data=layout))
    entries = [StageEntry(participant_uuid="a", stage_index=0, vad=100)]
    state.apply(ev.StageChanged(entries=entries))
    assert state.status == status and state.layout == layout
    assert state.stage == tuple(entries)


def test_chat_history_is_bounded_and_includes_v14_messages() -> None:
    state = ConferenceState(chat_history=3)
    for i in range(4):
        state.apply(ev.MessageReceived(payload=f"m{i}"))
    state.apply(ev.Message(payload="v14"))
    assert [m.payload for m in state.chat] == ["m2", "m3", "v14"]


def test_captions_latest_and_bounded_final_history() -> None:
    state = ConferenceState(caption_history=2)
    for text, final in [
        ("hi", False),
        ("Hi.", True),
        ("how", False),
        ("How?", True),
        ("Ok.", True),
    ]:
        state.apply(ev.LiveCaptions(text=text, is_final=final))
    state.apply(ev.LiveCaptions(text="and", is_final=False))
    assert state.caption == ev.LiveCaptions(text="and", is_final=False)
    assert list(state.captions) == ["How?", "Ok."]


def test_presentation_state() -> None:
    state = ConferenceState()
    assert not state.presentation.active
    state.apply(ev.PresentationStarted("Bob", "bob@x", "u-bob", "video"))
    state.apply(ev.PresentationFrame(event_id="f1"))
    state.apply(ev.PresentationFrame(event_id="f2"))
    p = state.presentation
    assert p.active and p.presenter_name == "Bob" and p.presenter_uuid == "u-bob"
    assert p.source == "video" and p.last_frame_id == "f2"
    state.apply(ev.PresentationStopped())
    assert not state.presentation.active and state.presentation.last_frame_id is None


def test_breakouts_have_their_own_roster() -> None:
    state = ConferenceState()
    sync(state, person("main"))
    state.apply(ev.BreakoutBegin(breakout_uuid="b1", participant_uuid="me-in-b1"))
    assert state.breakouts["b1"].participant_uuid == "me-in-b1"
    assert not state.apply(ev.BreakoutEvent("b1", ev.SyncBegin()))
    state.apply(ev.BreakoutEvent("b1", create(person("x"))))
    diff = state.apply(ev.BreakoutEvent("b1", ev.SyncEnd()))
    assert diff.breakout_uuid == "b1" and uuids(diff.created) == {"x"}
    diff = state.apply(ev.BreakoutEvent("b1", ev.ParticipantDeleted(uuid="x")))
    assert diff.breakout_uuid == "b1" and uuids(diff.deleted) == {"x"}
    state.apply(ev.BreakoutEvent("b1", ev.ConferenceUpdated(status=wire.ConferenceStatus())))
    assert state.breakouts["b1"].state.status is not None
    assert set(state.roster) == {"main"}  # main roster untouched
    # events for a breakout whose begin we missed still build its roster
    state.apply(ev.BreakoutEvent("b2", create(person("y"))))
    assert set(state.breakouts["b2"].roster) == {"y"}
    state.apply(ev.BreakoutEnd(breakout_uuid="b1"))
    assert set(state.breakouts) == {"b2"}


def test_splash_screen_peer_and_disconnect() -> None:
    state = ConferenceState()
    splash = SplashScreenData(screen_key="direct_media_welcome")
    state.apply(ev.SplashScreen(data=splash))
    assert state.splash_screen == splash
    state.apply(ev.SplashScreen(data=None))
    assert state.splash_screen is None
    assert not state.peer_present
    state.apply(ev.NewOffer(sdp="v=0"))
    assert state.peer_present
    state.apply(ev.PeerDisconnected())
    assert not state.peer_present
    state.apply(ev.NewCandidate(candidate="candidate:1"))
    assert state.peer_present
    state.apply(ev.Disconnected(reason="kicked"))
    assert state.disconnected and state.disconnect_reason == "kicked"


def test_unrelated_events_change_no_roster() -> None:
    state = ConferenceState()
    sync(state, person("a"))
    unrelated: list[ev.Event] = [
        ev.UnknownEvent("zz", {}),
        ev.RefreshTokenRequested(),
        ev.StreamConnected(1),
    ]
    for event in unrelated:
        assert state.apply(event) == RosterDiff()
    assert set(state.roster) == {"a"}
