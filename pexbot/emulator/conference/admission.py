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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from pexbot import wire
from pexbot.emulator.config import ConferenceConfig

from .model import NOT_FOUND, ForbiddenError, NotFoundError, Role
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
