"""Which Markdown texts Python-Markdown formats in time proportional to their length.

Its inline processors rescan the rest of a paragraph from every ``[`` that does not close (and
to the matching ``]`` from every one that does), from every ``(`` after ``]``, and from every
``<``; and its block processors recurse, and rescan, once per level of nested lists and block
quotes. A 32 KiB note of unclosed brackets took minutes, a deeply nested list overflowed the
stack. This module bounds that work from one linear pass over the text: a note whose bound is
above a small multiple of its length, or that nests deeper than ``MAX_NESTING`` levels, is
shown as plain text instead (``render_markdown``), saying why.
"""

from __future__ import annotations

import re

MAX_NESTING = 32  # list or block-quote levels; real notes use a handful
SCAN_PER_CHAR = 16  # characters rescanned per character of text, at most
SCAN_ALLOWANCE = 50_000  # and this much besides, so a short note is never judged by ratio
_PARAGRAPHS = re.compile(r"\n[ \t]*\n")
_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~)")


def plain_text_reason(text: str) -> str | None:
    """Why ``text`` must be shown as plain text, or ``None`` when Markdown may format it."""
    depth = nesting_depth(text)
    if depth > MAX_NESTING:
        return f"it nests {depth} levels deep (lists or quotes; {MAX_NESTING} are formatted)"
    budget = SCAN_PER_CHAR * len(text) + SCAN_ALLOWANCE
    if scan_cost(text) > budget:
        return "its unclosed brackets or tags would make formatting it take very long"
    return None


def nesting_depth(text: str) -> int:
    """The deepest list or block-quote level of any line (indentation of two spaces, a tab
    counting four, or one ``>`` each), outside fenced code."""
    deepest = 0
    for line in _outside_fences(text):
        prefix = line[: len(line) - len(line.lstrip(" \t>"))]
        width = prefix.replace(">", "").expandtabs(4).count(" ")
        deepest = max(deepest, prefix.count(">") + width // 2)
    return deepest


def scan_cost(text: str) -> int:
    """An upper bound on the characters the link and HTML processors rescan, paragraph by
    paragraph (they never look past a blank line), outside fenced code."""
    prose = "\n".join(_outside_fences(text))
    return sum(_paragraph_cost(p) for p in _PARAGRAPHS.split(prose))


def _outside_fences(text: str) -> list[str]:
    lines: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        opened = _FENCE.match(line)
        if fence is None and opened:
            fence = opened.group(1)
        elif fence is not None:
            if opened and opened.group(1) == fence:
                fence = None
        else:
            lines.append(line)
    return lines


def _paragraph_cost(paragraph: str) -> int:
    end = len(paragraph)
    cost = 0
    brackets: list[int] = []
    parens: list[tuple[int, bool]] = []  # position, and whether it follows "]"
    next_close_angle = end
    for i in range(end - 1, -1, -1):  # every "<" rescans up to the next ">"
        char = paragraph[i]
        if char == ">":
            next_close_angle = i
        elif char == "<":
            cost += next_close_angle - i
    for i, char in enumerate(paragraph):
        if char == "[" and not _escaped(paragraph, i):
            brackets.append(i)
        elif char == "]" and brackets and not _escaped(paragraph, i):
            cost += i - brackets.pop()
        elif char == "(":
            parens.append((i, i > 0 and paragraph[i - 1] == "]"))
        elif char == ")" and parens:
            start, after_bracket = parens.pop()
            cost += i - start if after_bracket else 0
    cost += sum(end - i for i in brackets)
    cost += sum(end - i for i, after_bracket in parens if after_bracket)
    return cost


def _escaped(text: str, index: int) -> bool:
    slashes = 0
    while index > slashes and text[index - slashes - 1] == "\\":
        slashes += 1
    return slashes % 2 == 1
