"""The plain-text part (T6): the caller's text, else text made from the HTML."""

from __future__ import annotations

from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

_CONFIG = ParserConfig(css=CSS_PROFILES["strict"], display_links=True)


def text_from_html(html: str) -> str:
    text: str = get_text(html, _CONFIG)
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return "\n".join(lines)
