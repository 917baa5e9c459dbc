"""Who may join, and as what: the ``request_token`` decision (pure).

Order of checks, each ending in a 403 the client can act on:

1. a one-time ``token`` (from ``refer`` / ``request_guest_token``) admits straight to its
   target with its role; PIN and SSO are not asked again (handled by the node);
2. a Virtual Reception alias without ``conference_extension`` →
   ``{conference_extension: "required", conference_extension_type}``; with one, the target
   alias is joined instead (its PIN challenge then echoes ``conference_extension``);
3. SSO: a conference with IdPs wants ``chosen_idp`` (→ ``{idp: [...], version}``), then answers
   the choice with ``{redirect_url, redirect_idp, version}``; the redirect page
   (``/emulator/sso``) gives an ``sso_token`` that passes this step;
4. PINs, exactly as the spec says:

   =========================  ==================  ===============================
   conference PINs            ``pin`` header      outcome
   =========================  ==================  ===============================
   none                       anything / absent   HOST
   host only                  host PIN            HOST
   host only                  ``none``            GUEST
   host only                  absent              403 {pin: required, guest_pin: none}
   host + guest               host PIN            HOST
   host + guest               guest PIN           GUEST
   host + guest               absent / ``none``   403 {pin: required, guest_pin: required}
   any PIN                    anything else       403 ``"Invalid PIN"`` (status "success")
   =========================  ==================  ===============================

The string ``'none'`` in ``chosen_idp`` / ``sso_token`` / ``token`` means "absent", as the
official client sends it.

Once admitted: the participant the admission makes (:func:`new_client`: a Guest of a locked or
not yet started room waits in ``waiting_room``) and what ``request_token`` answers it
(:func:`token_result`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from pexbot import wire
from pexbot.emulator.config import ConferenceConfig, EmulatorConfig

from .model import (
    NOT_FOUND,
    Conference,
    ForbiddenError,
    NotFoundError,
    Participant,
    Role,
    Room,
    new_uuid,
)
from .tokens import Ticket

INVALID_PIN = "Invalid PIN"


@dataclass(frozen=True)
class Admission:
    conference_config: ConferenceConfig  # the target's, for a Virtual Reception
    role: Role
    idp_uuid: str | None = None


def present(value: str | None) -> str | None:
    """The official client sends the literal 'none' for an absent value."""
    if value is None or value == "" or value.lower() == "none":
        return None
    return value


def pin_challenge(
    conf: ConferenceConfig, version: wire.Version, extension: str | None
) -> ForbiddenError:
    challenge = wire.PinChallenge(
        pin="required" if conf.host_pin else "none",
        guest_pin="required" if conf.guest_pin else "none",
        version=version,
        conference_extension=extension,  # type: ignore[arg-type]
    )
    return ForbiddenError(challenge.body(), status="success")


def decide_role(
    conf: ConferenceConfig, pin: str | None, version: wire.Version, extension: str | None
) -> Role:
    if conf.host_pin is None:
        return "HOST"
    if pin is not None and pin == conf.host_pin:
        return "HOST"
    if conf.guest_pin is None:
        if pin is not None and pin.lower() == "none":
            return "GUEST"
        if pin is None:
            raise pin_challenge(conf, version, extension)
        raise ForbiddenError(INVALID_PIN, status="success")
    if pin is not None and pin == conf.guest_pin:
        return "GUEST"
    if pin is None or pin.lower() == "none":
        raise pin_challenge(conf, version, extension)
    raise ForbiddenError(INVALID_PIN, status="success")


def sso_step(
    conf: ConferenceConfig,
    body: wire.RequestTokenBody,
    sso_ticket: Ticket | None,
    conference_id: str,
    base_url: str,
    version: wire.Version,
) -> str | None:
    """The IdP the participant authenticated with; raises the next SSO 403 if not done yet."""
    if not conf.idps:
        return None
    if (
        sso_ticket is not None
        and sso_ticket.kind == "sso"
        and sso_ticket.conference_id == conference_id
    ):
        return sso_ticket.idp_uuid
    if present(body.sso_token) is not None:
        raise ForbiddenError("Invalid SSO token")
    chosen = present(body.chosen_idp)
    if chosen is None:
        idps = [wire.Idp(name=i.name, uuid=i.uuid, img="") for i in conf.idps]
        raise ForbiddenError(wire.IdpChoice(idp=idps, version=version).body())
    for idp in conf.idps:
        if idp.uuid == chosen:
            query = urlencode({"idp": idp.uuid, "conference": conference_id})
            redirect = wire.SsoRedirect(
                redirect_url=f"{base_url}/emulator/sso?{query}",
                redirect_idp=wire.RedirectIdp(name=idp.name, uuid=idp.uuid),
                version=version,
            )
            raise ForbiddenError(redirect.body())
    raise ForbiddenError("Invalid identity provider")


def admit(
    *,
    conf: ConferenceConfig,
    resolve: Callable[[str], ConferenceConfig | None],
    conference_id_of: Callable[[ConferenceConfig], str],
    body: wire.RequestTokenBody,
    pin: str | None,
    sso_ticket: Ticket | None,
    base_url: str,
    version: wire.Version,
) -> Admission:
    """Decide a request_token for the conference ``conf`` its alias named (tickets aside)."""
    extension: str | None = None
    if conf.virtual_reception:
        target_alias = present(body.conference_extension)
        if target_alias is None:
            raise ForbiddenError(
                wire.ExtensionRequired(
                    conference_extension="required",
                    conference_extension_type=conf.extension_type,
                ).body()
            )
        allowed = {t.strip().lower() for t in conf.targets}
        target = resolve(target_alias)
        if (
            target is None
            or target.virtual_reception
            or (allowed and target_alias.strip().lower() not in allowed)
        ):
            raise NotFoundError(NOT_FOUND)
        extension = conf.extension_type
        conf = target
    idp_uuid = sso_step(conf, body, sso_ticket, conference_id_of(conf), base_url, version)
    role = decide_role(conf, pin, version, extension)
    return Admission(conference_config=conf, role=role, idp_uuid=idp_uuid)


# -- the admitted participant and its answer --------------------------------------------------


def service_type_for(conference: Conference, room: Room, role: Role) -> str:
    if role == "GUEST" and (room.locked or not room.started):
        return "waiting_room"
    return conference.config.service_type


def new_client(
    conference: Conference,
    room: Room,
    role: Role,
    alias: str,
    body: wire.RequestTokenBody,
    idp_uuid: str | None,
    start_time: float,
) -> Participant:
    participant = Participant(
        uuid=new_uuid(),
        display_name=body.display_name,
        role=role,
        conference_id=conference.id,
        room_id=room.id,
        service_type=service_type_for(conference, room, role),
        start_time=start_time,
        join_alias=alias,
        call_tag=body.call_tag or "",
        supports_direct_chat=bool(body.supports_direct_chat),
        idp_uuid=idp_uuid,
        vendor="pexbot-emulator client",
    )
    if role == "GUEST" and room.guests_muted:
        participant.is_muted = participant.muted_by_host = True
    return participant


def format_expires(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else str(seconds)


def token_result(
    conference: Conference,
    p: Participant,
    token: str,
    lifetime: float,
    *,
    version: wire.Version,
    config: EmulatorConfig,
) -> wire.RequestTokenResult:
    cfg = conference.config
    return wire.RequestTokenResult(
        token=token,
        expires=format_expires(lifetime),
        participant_uuid=p.uuid,
        display_name=p.display_name,
        role=p.role,
        version=version,
        current_service_type=p.service_type,  # type: ignore[arg-type]
        service_type=cfg.service_type,
        conference_name=conference.name,
        call_tag=p.call_tag,
        call_type=cfg.call_type,
        allow_1080p=True,
        analytics_enabled=False,
        chat_enabled=cfg.chat_enabled,
        fecc_enabled=False,
        rtmp_enabled=False,
        guests_can_present=cfg.guests_can_present,
        vp9_enabled=False,
        trickle_ice_enabled=True,
        direct_media=cfg.direct_media,
        use_relay_candidates_only=False,
        pex_datachannel_id=1 if cfg.direct_media else None,
        client_stats_update_interval=cfg.stats_interval_ms if cfg.direct_media else None,
        breakout_rooms=cfg.breakout_rooms,
        idp_uuid=p.idp_uuid,
        # An empty list breaks Chromium (official-client-flow §18): omit instead.
        stun=[wire.StunServer(url=u) for u in config.stun] or None,
        turn=[wire.TurnServer(**t.model_dump()) for t in config.turn] or None,
    )
