"""Events through Session against the emulator: re-sync after a dropped stream, chat between
two clients, host-only refusals, disconnect and refer, callbacks and iterators."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from session_support import HOST_PIN, Recorder, emulator, url, wait_for

from pexbot import GUEST_PIN, HostOnly, Session, SessionEndedEvent
from pexbot.errors import SessionEnded
from pexbot.events import (
    Disconnected,
    MessageReceived,
    ParticipantCreated,
    ParticipantDeleted,
    ParticipantUpdated,
    Refer,
    StreamConnected,
    StreamLost,
    SyncEnd,
)
from pexbot.signalling.http import ApiTransport
from pexbot.signalling.join import JoinRequest, request_token


async def _join_api_only(base: str, alias: str, name: str) -> tuple[ApiTransport, str, str]:
    """A participant without an event stream: a token and nothing else."""
    transport = ApiTransport(base, alias)
    info = await request_token(transport, JoinRequest(name))
    return transport, info.participant_uuid, info.token


async def test_dropped_stream_resyncs_an_exact_roster() -> None:
    async with emulator() as emu:
        base = url(emu)
        stay_t, stay, _ = await _join_api_only(base, "open", "Stays")
        leave_t, leave, leave_token = await _join_api_only(base, "open", "Leaves")
        async with Session(base, "open", display_name="Watcher") as watcher:
            seen = Recorder(watcher)
            assert set(watcher.state.roster) == {watcher.participant_uuid, stay, leave}

            # Hold the next events connection for 2 s, then drop the watcher's stream.
            emu.faults.fail_next(1, status=None, path_contains="/events", delay=2.0)
            emu.faults.drop_streams(watcher.participant_uuid)
            await seen.wait(StreamLost)
            # While the stream is down: one leaves, one joins, one changes.
            await leave_t.request("POST", "release_token", json={}, token=leave_token)
            new_t, new, _ = await _join_api_only(base, "open", "Newcomer")
            await watcher.participant(stay).mute()
            before_reconnect = len(seen.of(SyncEnd))

            await seen.wait(SyncEnd, before_reconnect + 1, within=20)
            node_roster = {p.uuid: p for p in await watcher.conference.participants()}
            assert (
                set(watcher.state.roster)
                == set(node_roster)
                == {
                    watcher.participant_uuid,
                    stay,
                    new,
                }
            )
            assert watcher.state.roster[stay].muted
            # Events since the drop: each change exactly once, nobody re-announced.
            after = seen.events[seen.events.index(seen.of(StreamLost)[0]) :]
            created = [e.participant.uuid for e in after if isinstance(e, ParticipantCreated)]
            deleted = [e.uuid for e in after if isinstance(e, ParticipantDeleted)]
            updated = [e.participant.uuid for e in after if isinstance(e, ParticipantUpdated)]
            assert created == [new]
            assert deleted == [leave]
            assert set(updated) == {stay}
            # ...and they came from the re-sync, after the stream was back.
            reconnected = after.index(seen.of(StreamConnected)[-1])
            for e in after:
                if isinstance(e, ParticipantCreated | ParticipantDeleted):
                    assert after.index(e) > reconnected
            # Over the whole session, nobody was created twice.
            counts = Counter(e.participant.uuid for e in seen.of(ParticipantCreated))
            assert max(counts.values()) == 1
            assert [e.attempt for e in seen.of(StreamConnected)][-1] >= 2
        for transport in (stay_t, leave_t, new_t):
            await transport.aclose()


async def test_two_clients_chat() -> None:
    async with emulator() as emu:
        async with (
            Session(url(emu), "open", display_name="Alice") as alice,
            Session(url(emu), "open", display_name="Bob") as bob,
        ):
            alice_inbox = alice.events([MessageReceived.name])
            bob_inbox = bob.events([MessageReceived.name])
            assert await alice.conference.message("hello from Alice")
            assert await bob.participant(alice.participant_uuid or "").message(
                '{"n": 1}', type="application/json"
            )

            to_bob = await asyncio.wait_for(anext(bob_inbox), 10)
            assert isinstance(to_bob, MessageReceived)
            assert (to_bob.origin, to_bob.uuid, to_bob.payload, to_bob.type) == (
                "Alice",
                alice.participant_uuid,
                "hello from Alice",
                "text/plain",
            )
            assert not to_bob.direct
            to_alice = await asyncio.wait_for(anext(alice_inbox), 10)
            # Alice may first see her own broadcast echoed, depending on the node.
            while isinstance(to_alice, MessageReceived) and to_alice.uuid == alice.participant_uuid:
                to_alice = await asyncio.wait_for(anext(alice_inbox), 10)
            assert isinstance(to_alice, MessageReceived)
            assert (to_alice.origin, to_alice.uuid, to_alice.payload, to_alice.type) == (
                "Bob",
                bob.participant_uuid,
                '{"n": 1}',
                "application/json",
            )
            assert to_alice.direct
            assert [m.payload for m in bob.state.chat] == ["hello from Alice"]


async def test_host_only_functions_refused_to_guests() -> None:
    async with emulator() as emu:
        async with (
            Session(url(emu), "pinned", display_name="Host", pin=HOST_PIN) as host,
            Session(url(emu), "pinned", display_name="Guest", pin=GUEST_PIN) as guest,
        ):
            assert guest.role == "GUEST"
            for refused in (
                guest.conference.lock(),
                guest.conference.mute_guests(),
                guest.conference.disconnect_all(),
                guest.participant(host.participant_uuid or "").mute(),
                guest.participant(host.participant_uuid or "").spotlight_on(),
                guest.me.set_role("chair"),
            ):
                with pytest.raises(HostOnly) as info:
                    await refused
                assert info.value.status == 403
            assert await guest.me.mute()  # guests may mute themselves
            assert await host.conference.lock()  # and hosts may lock


async def test_disconnect_event_ends_the_session_with_the_reason() -> None:
    async with emulator() as emu:
        async with Session(url(emu), "open", display_name="Host") as host:
            victim = Session(url(emu), "open", display_name="Victim")
            async with victim:
                seen = Recorder(victim)
                events = victim.events()
                assert await host.participant(victim.participant_uuid or "").disconnect()
                await asyncio.wait_for(victim.ended.wait(), 10)
                disconnect = seen.of(Disconnected)
                assert len(disconnect) == 1 and disconnect[0].reason
                assert victim.end_reason == disconnect[0].reason
                assert seen.of(SessionEndedEvent)[-1].reason == disconnect[0].reason
                # The iterator ends with the session.
                remaining = [e async for e in events]
                assert isinstance(remaining[-1], SessionEndedEvent)
                with pytest.raises(SessionEnded):
                    await victim.conference.status()
            release = emu.traffic.find("token.release")[-1]
            assert release.request_json == {"reason": disconnect[0].reason}


async def test_refer_is_surfaced_not_followed() -> None:
    async with emulator() as emu:
        async with (
            Session(url(emu), "open", display_name="Host") as host,
            Session(url(emu), "open", display_name="Moved") as moved,
        ):
            refer = moved.events([Refer.name, Disconnected.name])
            assert await host.participant(moved.participant_uuid or "").transfer(
                "pinned", role="guest"
            )
            event = await asyncio.wait_for(anext(refer), 10)
            assert isinstance(event, Refer) and event.alias == "pinned" and event.token
            assert event.token not in repr(event)
            follower = moved.refer_session(event)
            async with follower:
                assert follower.transport.alias == "pinned" and follower.role == "GUEST"


async def test_callbacks_sync_async_and_unsubscribe() -> None:
    async with emulator() as emu:
        async with (
            Session(url(emu), "open", display_name="Listener") as session,
            Session(url(emu), "open", display_name="Talker") as talker,
        ):
            sync_seen: list[str] = []
            async_seen: list[str] = []

            def on_sync(event: object) -> None:
                assert isinstance(event, MessageReceived)
                sync_seen.append(event.payload)

            async def on_async(event: object) -> None:
                await asyncio.sleep(0)
                assert isinstance(event, MessageReceived)
                async_seen.append(event.payload)

            sub_sync = session.on(MessageReceived.name, on_sync)
            sub_async = session.on([MessageReceived.name], on_async)
            await talker.conference.message("one")
            await wait_for(lambda: len(sync_seen) == 1 and len(async_seen) == 1)
            sub_sync.unsubscribe()
            sub_sync.unsubscribe()  # idempotent
            await talker.conference.message("two")
            await wait_for(lambda: len(async_seen) == 2)
            sub_async.unsubscribe()
            await talker.conference.message("three")
            await wait_for(lambda: len(session.state.chat) == 3)
            assert sync_seen == ["one"] and async_seen == ["one", "two"]
