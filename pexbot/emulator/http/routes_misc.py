"""Node status, theme, layouts, and the images: avatar and presentation frames (the
pictures come from :mod:`.presentation`)."""

from __future__ import annotations

from aiohttp import web

from pexbot.emulator.conference import assets
from pexbot.emulator.conference.model import BadRequestError, NotFoundError
from pexbot.emulator.conference.node import MAINTENANCE

from .web_util import NODE, RouteSpec, context, failed, ok, target_of


async def status(request: web.Request) -> web.StreamResponse:
    if request.app[NODE].maintenance:
        return failed(503, MAINTENANCE)
    return ok("OK")


async def theme(request: web.Request) -> web.StreamResponse:
    return ok(assets.theme())


async def theme_file(request: web.Request) -> web.StreamResponse:
    data = assets.THEME_FILES.get(request.match_info["path"])
    if data is None:
        raise NotFoundError("No such theme resource")
    return web.Response(body=data, content_type="image/jpeg")


async def available_layouts(request: web.Request) -> web.StreamResponse:
    annotate = request.query.get("annotate", "").lower() in ("true", "1", "yes")
    if annotate:
        return ok([{"name": name, "tags": tags} for name, tags in assets.LAYOUTS.items()])
    return ok(list(assets.LAYOUTS))


async def layout_svgs(request: web.Request) -> web.StreamResponse:
    return ok({name: assets.layout_svg(name) for name in assets.LAYOUTS})


async def avatar(request: web.Request) -> web.StreamResponse:
    target_of(request)
    return web.Response(body=assets.PLACEHOLDER_JPEG, content_type="image/jpeg")


async def _presentation(request: web.Request, *, high: bool) -> web.StreamResponse:
    ctx = context(request)
    frame_id = request.query.get("id") or request.headers.get("id")
    if not frame_id:
        raise BadRequestError("Missing presentation frame id")
    body = ctx.node.presentation.jpeg(ctx.room, ctx.caller, high=high)
    return web.Response(body=body, content_type="image/jpeg")


async def presentation(request: web.Request) -> web.StreamResponse:
    """``presentation.jpeg``: the newest presentation picture, at most 1280 wide."""
    return await _presentation(request, high=False)


async def presentation_high(request: web.Request) -> web.StreamResponse:
    """``presentation_high.jpeg``: the newest presentation picture at full size."""
    return await _presentation(request, high=True)


ROUTES = [
    RouteSpec("GET", "/api/client/v2/status", status, "misc.status"),
    RouteSpec("GET", "theme/", theme, "misc.theme"),
    RouteSpec("GET", "theme", theme, "misc.theme_bare"),
    RouteSpec("GET", "theme/{path:.+}", theme_file, "misc.theme_file"),
    RouteSpec("GET", "available_layouts", available_layouts, "conference.available_layouts"),
    RouteSpec("GET", "layout_svgs", layout_svgs, "conference.layout_svgs"),
    RouteSpec("GET", "participants/{participant_uuid}/avatar.jpg", avatar, "participant.avatar"),
    RouteSpec("GET", "presentation.jpeg", presentation, "misc.presentation"),
    RouteSpec("GET", "presentation_high.jpeg", presentation_high, "misc.presentation_high"),
]

# The same reads inside a breakout room (a Host's control participant asks them there).
_B = "breakouts/{breakout_uuid}/"
ROUTES += [
    RouteSpec("GET", _B + "theme/", theme, "breakout.theme"),
    RouteSpec("GET", _B + "theme/{path:.+}", theme_file, "breakout.theme_file"),
    RouteSpec("GET", _B + "available_layouts", available_layouts, "breakout.available_layouts"),
    RouteSpec("GET", _B + "layout_svgs", layout_svgs, "breakout.layout_svgs"),
    RouteSpec(
        "GET",
        _B + "participants/{participant_uuid}/avatar.jpg",
        avatar,
        "breakout.participant.avatar",
    ),
]
