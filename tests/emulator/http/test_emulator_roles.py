"""Host/guest rules (pexbot.emulator.conference.policy) and the waiting room, over real HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest
from emu_helpers import Client, make_config

from pexbot.emulator import ConferenceConfig, Emulator
from pexbot.emulator.conference.policy import Rule, rule_for
from pexbot.emulator.http.app import all_routes

SAMPLE_BODIES: dict[str, Any] = {
    "conference.dial": {"role": "GUEST", "destination": "x@example.com", "protocol": "sip"},
    "conference.set_guests_can_unmute": {"setting": True},
    "conference.transform_layout": {"transforms": {"layout": "2x2"}},
    "conference.silent_video_detection": {"config": {"enable": True}},
    "conference.set_classification_level": {"level": 1},
    "conference.set_message_text": {"text": "hi"},
    "conference.set_pinning_config": {"pinning_config": "x"},
    "conference.video_mixes_create": {"mix_name": "m"},
    "conference.video_mixes_configure": {"transform_layout": {"layout": "1:7"}},
    "conference.breakouts": {"name": "room"},
    "conference.move_to_breakout": {"breakout_uuid": "main", "participants": []},
}


def fill(template: str, **values: str) -> str:
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: values[m.group(1)], template)


HOST_ONLY = [
    spec
    for spec in all_routes(control_api=False)
    if spec.method == "POST"
    and rule_for(spec.name) is Rule.HOST
    and not spec.name.startswith("breakout.")
]


@pytest.mark.parametrize("spec", HOST_ONLY, ids=[s.name for s in HOST_ONLY])
async def test_host_only_functions_refused_for_guests(spec: Any, client: Any) -> None:
    host, guest = client("hostonly"), client("hostonly")
    await host.join("host", pin="1234")
    await guest.join("guest", pin="none")
    path = fill(spec.full_path, alias="hostonly", participant_uuid=host.uuid, mix="m")
    path = path.split("/hostonly/", 1)[1]
    status, data = await guest.post(path, SAMPLE_BODIES.get(spec.name, {}))
    assert status == 403, (spec.name, data)
    assert data["status"] == "failed" and "Hosts only" in data["result"]


async def test_breakout_routes_are_host_only(client: Any) -> None:
    host, guest = client("hostonly"), client("hostonly")
    await host.join("host", pin="1234")
    await guest.join("guest", pin="none")
    status, data = await host.post("breakouts", {"name": "b1"})
    assert status == 200
    breakout = data["result"]["breakout_uuid"]
    for path in (
        "breakouts/empty",
        f"breakouts/{breakout}/lock",
        f"breakouts/{breakout}/disconnect",
    ):
        status, data = await guest.post(path)
        assert status == 403, path


async def test_guest_may_act_on_itself_not_on_others(client: Any, emu: Emulator) -> None:
    host, guest = client("hostonly"), client("hostonly")
    await host.join("host", pin="1234")
    await guest.join("guest", pin="none")
    for op in ("mute", "unmute", "buzz", "clearbuzz", "client_mute", "video_muted"):
        assert (await guest.post(f"participants/{guest.uuid}/{op}"))[0] == 200, op
        status, data = await guest.post(f"participants/{host.uuid}/{op}")
        assert status == 403 and "themselves" in data["result"], op
    assert (await guest.post(f"participants/{guest.uuid}/overlaytext", {"text": "me"}))[0] == 200
    assert emu.node.participants[guest.uuid].overlay_text == "me"
    # direct chat to anyone is fine for a guest
    msg = {"type": "text/plain", "payload": "psst"}
    assert (await guest.post(f"participants/{host.uuid}/message", msg))[0] == 200
    # a host may act on a guest...
    assert (await host.post(f"participants/{guest.uuid}/mute"))[0] == 200
    # ...but never make calls or take the floor for someone else
    offer = {"call_type": "WEBRTC", "sdp": "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"}
    status, data = await host.post(f"participants/{guest.uuid}/calls", offer)
    assert status == 403 and "your own participant" in data["result"]
    assert (await host.post(f"participants/{guest.uuid}/take_floor"))[0] == 403


async def test_guest_muted_by_host_needs_guests_can_unmute(client: Any) -> None:
    host, guest = client("hostonly"), client("hostonly")
    await host.join("host", pin="1234")
    await guest.join("guest", pin="none")
    assert (await host.post("set_guests_can_unmute", {"setting": False}))[0] == 200
    assert (await host.post(f"participants/{guest.uuid}/mute"))[0] == 200
    status, data = await guest.post(f"participants/{guest.uuid}/unmute")
    assert status == 403 and "cannot unmute" in data["result"]
    assert (await host.post("set_guests_can_unmute", {"setting": True}))[0] == 200
    assert (await guest.post(f"participants/{guest.uuid}/unmute"))[0] == 200


async def test_guests_can_present_off_refuses_floor(emu_factory: Any, http: Any) -> None:
    conf = ConferenceConfig(aliases=["x"], host_pin="1", guests_can_present=False)
    emu = await emu_factory(make_config(conferences=[conf]))
    host, guest = Client(http, emu, "x"), Client(http, emu, "x")
    await host.join("h", pin="1")
    await guest.join("g", pin="none")
    status, data = await guest.post(f"participants/{guest.uuid}/take_floor")
    assert status == 403 and "cannot present" in data["result"]
    assert await host.post(f"participants/{host.uuid}/take_floor") == (
        200,
        {"status": "success", "result": None},
    )


async def test_locked_conference_waiting_room(emu_factory: Any, http: Any) -> None:
    conf = ConferenceConfig(aliases=["x"], host_pin="1", locked=True)
    emu = await emu_factory(make_config(conferences=[conf]))
    host = Client(http, emu, "x")
    await host.join("h", pin="1")
    assert host.result["current_service_type"] == "conference"  # hosts pass a lock
    events = await host.events()
    g1, g2 = Client(http, emu, "x"), Client(http, emu, "x")
    for g in (g1, g2):
        result = await g.join("g", pin="none")
        assert result["current_service_type"] == "waiting_room"
        created = await events.next("participant_create")
        assert created["uuid"] == g.uuid and created["service_type"] == "waiting_room"
    assert (await host.post(f"participants/{g1.uuid}/unlock"))[0] == 200
    update = await events.next("participant_update")
    assert (update["uuid"], update["service_type"]) == (g1.uuid, "conference")
    _, data = await host.get("conference_status")
    assert data["result"]["locked"] is True
    assert (await host.post("unlock"))[0] == 200
    update = await events.next("participant_update")
    assert (update["uuid"], update["service_type"]) == (g2.uuid, "conference")
    status_event = await events.next("conference_update")
    assert status_event["locked"] is False
    assert (await host.post("lock"))[0] == 200
    assert (await events.next("conference_update"))["locked"] is True
    g3 = Client(http, emu, "x")
    assert (await g3.join("g3", pin="none"))["current_service_type"] == "waiting_room"
    assert (await host.post("start_conference"))[0] == 200
    update = await events.next("participant_update")
    assert (update["uuid"], update["service_type"]) == (g3.uuid, "conference")
    await host.close()


async def test_role_change_and_muteguests(client: Any) -> None:
    host, guest = client("hostonly"), client("hostonly")
    await host.join("host", pin="1234")
    await guest.join("guest", pin="none")
    events = await guest.events()
    assert (await host.post("muteguests"))[0] == 200
    update = await events.next("participant_update")
    assert (update["uuid"], update["is_muted"]) == (guest.uuid, "YES")
    assert (await events.next("conference_update"))["guests_muted"] is True
    late = client("hostonly")
    await late.join("late", pin="none")
    assert (await events.next("participant_create"))["is_muted"] == "YES"
    assert (await host.post(f"participants/{guest.uuid}/role", {"role": "chair"}))[0] == 200
    update = await events.next("participant_update")
    assert (update["uuid"], update["role"]) == (guest.uuid, "chair")
    # now a host, the former guest may lock the conference
    assert (await guest.post("lock"))[0] == 200
