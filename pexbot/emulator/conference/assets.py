"""Static things the node serves: a placeholder JPEG, the direct-media theme, layout lists."""

from __future__ import annotations

import base64
from typing import Any

from pexbot import wire

#: 64x36 baseline JPEG (a grey box on blue) for avatars, presentation frames and theme images.
PLACEHOLDER_JPEG = base64.b64decode(
    "/9j//gAQTGF2YzYyLjI4LjEwMgD/2wBDAAgEBAQEBAUFBQUFBQYGBgYGBgYGBgYGBgYHBwcICAgHBwcGBgcHCAgICAkJ"
    "CQgICAgJCQoKCgwMCwsODg4RERT/3QAEAAT/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsBAAMBAQEBAQEB"
    "AQEAAAAAAAABAgMEBQYHCAkKCxAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAk"
    "M2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWW"
    "l5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6EQACAQIEBAME"
    "BwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIygQgUQpGhscEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3ODk6Q0RF"
    "RkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqCg4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TF"
    "xsfIycrS09TV1tfY2dri4+Tl5ufo6ery8/T19vf4+fr/wAARCAAkAEADASIAAhEAAxEA/9oADAMBAAIRAxEAPwDziiii"
    "vSOIKKK9X/4Zi/6mz/yj/wD31qalanStzu172+RUKcp35Vex5RRXq/8AwzF/1Nn/AJR//vrXlFFOtTq35He1r/MJ05Qt"
    "zK1woooqiT//0POKKKK9I4gr6tr5SorLEYf6xy+9y8t+l97f5F0qvsr6Xvb8D6tr5Sooow+H+r83vc3Nbpba/wDmFWr7"
    "W2lrX/EKKKK1IP/R84ooor0jiCiiigAooooAKKKKAP/Z"
)

THEME_SCREENS = {
    "direct_media_welcome": "Welcome",
    "direct_media_waiting_for_host": "Waiting for the host",
    "direct_media_other_participants_audio_only": "The other participants are audio only",
    "direct_media_escalate": "Switching to a meeting with more participants",
    "direct_media_deescalate": "Switching to a two-party call",
}

#: theme resources served under ``theme/<path>``
THEME_FILES = {"background.jpg": PLACEHOLDER_JPEG}


def theme() -> dict[str, Any]:
    return {
        key: wire.SplashScreen(
            background=wire.ThemeBackground(path="background.jpg"),
            elements=[wire.ThemeText(color=4294967295, text=text)],
        ).body()
        for key, text in THEME_SCREENS.items()
    }


LAYOUTS: dict[str, list[str]] = {
    "1:0": ["speaker-focus"],
    "1:7": ["speaker-focus", "has-native-multiscreen"],
    "1:21": ["speaker-focus"],
    "2:21": ["speaker-focus"],
    "1:33": ["speaker-focus"],
    "2x2": ["equal", "has-native-multiscreen"],
    "3x3": ["equal"],
    "4x4": ["equal"],
    "5x5": ["equal"],
    "ac": ["adaptive"],
    "one_main_twelve_around": ["speaker-focus"],
    "two_mains_eight_around": ["speaker-focus"],
}

#: accepted by transform_layout beyond LAYOUTS (old names and other documented ones)
LAYOUT_ALIASES = {"4:0": "2x2", "9:0": "3x3", "16:0": "4x4", "25:0": "5x5"}
EXTRA_LAYOUTS = {"1:1", "one_main_nine_around", "teams"}


def canonical_layout(name: str) -> str | None:
    name = LAYOUT_ALIASES.get(name, name)
    return name if name in LAYOUTS or name in EXTRA_LAYOUTS else None


def layout_svg(name: str) -> str:
    """A small SVG sketch of a layout (one grey tile per main speaker, a strip of small ones)."""
    tiles = []
    if name in ("2x2", "3x3", "4x4", "5x5"):
        n = int(name[0])
        w, h = 140 / n, 88 / n
        for r in range(n):
            for c in range(n):
                tiles.append((c * w + 2, r * h + 2, w - 4, h - 4))
    else:
        tiles.append((33, 12, 74, 45))
        small = 0 if name == "1:0" else 7
        for i in range(small):
            tiles.append((4 + i * 19, 66, 18, 14))
    rects = "".join(
        f"<rect x='{x:g}' y='{y:g}' width='{w:g}' height='{h:g}' rx='2' fill='#BBBFC3'></rect>"
        for x, y, w, h in tiles
    )
    return (
        "<svg width='140' height='88' viewBox='0 0 140 88' fill='none' "
        "xmlns='http://www.w3.org/2000/svg'><rect x='0.5' y='0.5' width='139' height='87' "
        f"rx='3.5' fill='currentColor' stroke='#BBBFC3'></rect>{rects}</svg>"
    )
