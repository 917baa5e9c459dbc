"""Joining through Session against the emulator on loopback: PINs, guests, Virtual Reception,
SSO, refusals, and secrets kept out of logs, reprs and errors."""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from session_support import GUEST_PIN_VALUE, HOST_PIN, IDP_UUID, emulator, url, wait_for

from pexbot import (
    GUEST_PIN,
    ConferenceNotFound,
    ExtensionRequired,
    HostOnly,
    IdpRequired,
    InvalidPin,
    NodeUnavailable,
    PinRequired,
    Session,
    SsoRedirectRequired,
    TransportError,
)


async def test_pins_and_guest_none() -> None:
    async with emulator() as emu:
        with pytest.raises(PinRequired) as host_only:
            async with Session(url(emu), "pinned"):
                pass
        assert host_only.value.host_pin and not host_only.value.guest_pin
        with pytest.raises(PinRequired) as both:
            async with Session(url(emu), "both"):
                pass
        assert both.value.host_pin and both.value.guest_pin
        with pytest.raises(InvalidPin):
            async with Session(url(emu), "pinned", pin="0000"):
                pass

        async with Session(url(emu), "pinned", display_name="Host", pin=HOST_PIN) as host:
            assert host.role == "HOST" and host.info.role == "HOST"
            async with Session(url(emu), "pinned", display_name="Guest", pin=GUEST_PIN) as guest:
                assert guest.role == "GUEST"
                await wait_for(lambda: guest.participant_uuid in host.state.roster)
                me = guest.state.roster[guest.participant_uuid or ""]
                assert me.role == "guest" and me.display_name == "Guest"
        async with Session(url(emu), "both", pin=GUEST_PIN_VALUE) as guest:
            assert guest.role == "GUEST"
        # Every request_token carried the pin header as given (traffic redacts its value).
        tokens = emu.traffic.find("token.request")
        assert [x.status for x in tokens] == [403, 403, 403, 200, 200, 200]


async def test_virtual_reception_and_sso_end_to_end() -> None:
    async with emulator() as emu:
        with pytest.raises(ExtensionRequired) as ext:
            async with Session(url(emu), "reception"):
                pass
        assert ext.value.kind == "standard"
        async with Session(
            url(emu), "reception", conference_extension="pinned", pin=HOST_PIN
        ) as session:
            assert session.info.conference_name == "Host PIN room"
            assert session.role == "HOST"

        with pytest.raises(IdpRequired) as idp:
            async with Session(url(emu), "sso"):
                pass
        assert idp.value.idps == [(IDP_UUID, "Example IdP")]
        with pytest.raises(SsoRedirectRequired) as redirect:
            async with Session(url(emu), "sso", chosen_idp=IDP_UUID):
                pass
        assert redirect.value.idp_uuid == IDP_UUID
        sso_token = await _follow_sso_redirect(redirect.value.redirect_url)
        async with Session(url(emu), "sso", display_name="Alice", sso_token=sso_token) as s:
            assert s.info.participant_uuid in s.state.roster


async def _follow_sso_redirect(redirect_url: str) -> str:
    """What a browser would do: open the IdP page; it lands on a URL carrying the sso_token."""
    async with aiohttp.ClientSession() as http, http.get(redirect_url) as resp:
        assert resp.status == 200
        final = str(resp.url)
        body = await resp.text()
    query = parse_qs(urlsplit(final).query)
    if "sso_token" in query:
        return query["sso_token"][0]
    if resp.content_type == "application/json":
        data = json.loads(body)
        result = data.get("result", data)
        return str(result["sso_token"])
    raise AssertionError(f"no sso_token after following the redirect to {final}")


async def test_unknown_conference_maintenance_and_unreachable() -> None:
    async with emulator(default_vmr=False) as emu:
        with pytest.raises(ConferenceNotFound):
            async with Session(url(emu), "nobody-here"):
                pass
        emu.faults.set_maintenance(True)
        with pytest.raises(NodeUnavailable):
            async with Session(url(emu), "open"):
                pass
        emu.faults.set_maintenance(False)
        base = url(emu)
    with pytest.raises(TransportError, match=base.rstrip("/")):
        async with Session(base, "open", timeout=5):
            pass


async def test_secrets_never_reach_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    async with emulator() as emu:
        async with Session(url(emu), "pinned", display_name="Host", pin=HOST_PIN) as host:
            token = host.token
            texts += [repr(host), repr(host.info), repr(host.token_keeper), repr(host.request)]
            async with Session(url(emu), "pinned", pin=GUEST_PIN) as guest:
                guest_token = guest.token
                with pytest.raises(HostOnly) as refused:
                    await guest.conference.lock()
                texts += [str(refused.value), repr(refused.value), repr(guest)]
            with pytest.raises(InvalidPin) as invalid:
                async with Session(url(emu), "pinned", pin="0000"):
                    pass
            texts += [str(invalid.value)]
            keeper = host.token_keeper
            keeper.request_refresh()
            await wait_for(lambda: keeper.refreshes >= 1, what="a token refresh")
            new_token = host.token
    texts.append(caplog.text)
    blob = "\n".join(texts)
    assert "request_token" in caplog.text or "joined" in caplog.text  # logging did happen
    for secret in (token, guest_token, new_token, HOST_PIN):
        assert secret not in blob
