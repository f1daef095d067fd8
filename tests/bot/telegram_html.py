"""Telegram's HTML parse mode, as strictly as Telegram applies it: the tags it knows, their attributes,
proper nesting, escaped ``& < >``; the fake Bot API server and the rendering tests both use it."""

from __future__ import annotations

import html
import re

# Telegram's HTML subset: tag -> attributes it may carry.
ALLOWED_TAGS: dict[str, set[str]] = {
    "b": set(), "strong": set(), "i": set(), "em": set(), "u": set(), "ins": set(), "s": set(),
    "strike": set(), "del": set(), "a": {"href"}, "code": {"class"}, "pre": set(), "span": {"class"},
    "tg-spoiler": set(), "blockquote": {"expandable"}, "tg-emoji": {"emoji-id"},
}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s\"'<>=`]+))?)*)\s*>")
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'<>=`]+)))?")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_URL = re.compile(r"^(https?://[^\s<>\"]+|tg://\S+|mailto:\S+)$")


class HtmlError(ValueError):
    """Text Telegram would refuse with "Bad Request: can't parse entities"."""


def _unescape_checked(value: str, where: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "&":
            m = _ENTITY.match(value, i)
            if not m:
                raise HtmlError(f"can't parse entities: unescaped '&' in {where}")
            try:
                out.append(html.unescape(m.group(0)))
            except (ValueError, OverflowError) as exc:
                raise HtmlError(f"can't parse entities: bad entity {m.group(0)}") from exc
            i = m.end()
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def parse_html(text: str) -> str:
    """The plain text Telegram shows for ``text`` in HTML mode; raises HtmlError like Telegram would."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "<":
            m = _TAG.match(text, i)
            if not m:
                raise HtmlError(f"can't parse entities: unescaped '<' or malformed tag at offset {i}")
            closing, name, attrs = m.group(1), m.group(2).lower(), m.group(3)
            if name not in ALLOWED_TAGS:
                raise HtmlError(f'can\'t parse entities: unsupported start tag "{name}" at offset {i}')
            if closing:
                if attrs.strip() or not stack or stack[-1] != name:
                    raise HtmlError(f'can\'t parse entities: can\'t find start tag for "</{name}>" at offset {i}')
                stack.pop()
            else:
                _check_start(name, attrs, stack, i)
                stack.append(name)
            i = m.end()
        elif c == ">":
            raise HtmlError(f"can't parse entities: unescaped '>' at offset {i}")
        elif c == "&":
            m = _ENTITY.match(text, i)
            if not m:
                raise HtmlError(f"can't parse entities: unescaped '&' at offset {i}")
            out.append(_unescape_checked(m.group(0), "text"))
            i = m.end()
        else:
            out.append(c)
            i += 1
    if stack:
        raise HtmlError(f'can\'t parse entities: can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _check_start(name: str, attrs: str, stack: list[str], at: int) -> None:
    parsed: dict[str, str] = {}
    for m in _ATTR.finditer(attrs):
        raw = next((g for g in m.groups()[1:] if g is not None), "")
        parsed[m.group(1).lower()] = _unescape_checked(raw, f"attribute {m.group(1)}")
    extra = set(parsed) - ALLOWED_TAGS[name]
    if extra:
        raise HtmlError(f"can't parse entities: unsupported attribute {sorted(extra)} of <{name}> at offset {at}")
    if name == "a":
        if not _URL.match(parsed.get("href", "")):
            raise HtmlError(f"can't parse entities: bad or missing href at offset {at}")
        if "a" in stack:
            raise HtmlError(f"can't parse entities: nested links at offset {at}")
    if name == "span" and parsed.get("class") != "tg-spoiler":
        raise HtmlError(f"can't parse entities: <span> must have class tg-spoiler (offset {at})")
    if name == "code" and "class" in parsed and not parsed["class"].startswith("language-"):
        raise HtmlError(f"can't parse entities: bad code class at offset {at}")
    if name == "tg-emoji" and not parsed.get("emoji-id", "").isdigit():
        raise HtmlError(f"can't parse entities: tg-emoji needs emoji-id at offset {at}")
    if stack and stack[-1] in ("pre", "code") and not (name == "code" and stack[-1] == "pre"):
        raise HtmlError(f"can't parse entities: <{name}> inside <{stack[-1]}> at offset {at}")


def utf16_len(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2
