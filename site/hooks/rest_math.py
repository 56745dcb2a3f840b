"""MkDocs hook: render the reST math of the docstrings (``.. math:: …`` blocks and ``:math:`…```
roles, which mkdocstrings passes through as text) with MathJax, so the API reference shows the
equations the module docstrings carry."""

from __future__ import annotations

import html
import re

_BLOCK = re.compile(r"\.\. math::\s*(.+?)</p>", re.S)
_CODEBLOCK = re.compile(
    r"<p>\.\. math::\s*</p>\s*<div class=\"[^\"]*\"><pre><span></span><code>(.+?)</code></pre></div>",
    re.S,
)
_ROLE = re.compile(r":math:<code>(.+?)</code>")


def _tex(s: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", s)).strip()


def on_page_content(content: str, **_: object) -> str:
    content = _CODEBLOCK.sub(
        lambda m: f'<div class="arithmatex">\\[{_tex(m.group(1))}\\]</div>', content
    )
    content = _BLOCK.sub(
        lambda m: f'</p><div class="arithmatex">\\[{_tex(m.group(1))}\\]</div><p>', content
    )
    return _ROLE.sub(lambda m: f'<span class="arithmatex">\\({_tex(m.group(1))}\\)</span>', content)
