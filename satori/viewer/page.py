"""One self-contained HTML page for a :class:`~satori.viewer.sources.Table`: inline CSS and JavaScript,
the data as JSON in a ``<script type="application/json">`` block, nothing fetched.

Model text is untrusted. In the data block every ``<``, ``>`` and ``&`` is written as a JSON
``\\u`` escape, so no completion can close the block (``</script>``) or open a comment; the page's
script puts text on screen only through ``textContent``. The script renders one page of
trajectories at a time, so the page stays fast with tens of thousands of samples.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

from satori.io import atomic_write_text
from satori.viewer.sources import Table, load

PAGE_SIZES = (10, 25, 50, 100)

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
{css}
</style>
</head>
<body>
<header class="top">
<h1>{title}</h1>
<div id="controls">
<label>view <select id="mode"><option value="list">one list</option><option value="compare">side by side</option></select></label>
<fieldset id="list-controls"><label>source <select id="f-source"><option value="">all</option></select></label></fieldset>
<fieldset id="compare-controls" hidden>
<label>left <select id="left"></select></label>
<label>right <select id="right"></select></label>
<label>outcome <select id="f-outcome"><option value="">any</option><option value="01">left wrong, right correct</option><option value="10">left correct, right wrong</option><option value="11">both correct</option><option value="00">both wrong</option></select></label>
<label>filters apply to <select id="f-side"><option value="either">either side</option><option value="both">both sides</option><option value="left">left</option><option value="right">right</option></select></label>
</fieldset>
<label>verdict <select id="f-verdict"><option value="">any</option><option value="correct">correct</option><option value="incorrect">incorrect</option></select></label>
<label>&lt;|reflect|&gt; <select id="f-reflect"><option value="">any</option><option value="yes">has</option><option value="no">has not</option></select></label>
<label>&lt;|explore|&gt; <select id="f-explore"><option value="">any</option><option value="yes">has</option><option value="no">has not</option></select></label>
<label>self-correction <select id="f-sc"><option value="">any</option><option value="incorrect-&gt;correct">incorrect → correct</option><option value="correct-&gt;incorrect">correct → incorrect</option><option value="correct-&gt;correct">correct → correct</option><option value="incorrect-&gt;incorrect">incorrect → incorrect</option><option value="none">no reflection</option></select></label>
<label>restart <select id="f-restart"><option value="">any</option><option value="plain">plain prompt</option><option value="from correct">from a correct prefix</option><option value="from incorrect">from an incorrect prefix</option></select></label>
<span id="step-filter" hidden><label>PPO step <input id="f-step-min" type="number" placeholder="from"></label> <label><input id="f-step-max" type="number" placeholder="to"></label></span>
<span id="groups"></span>
<label>text <input id="f-text" type="search" placeholder="find in the trajectory"></label>
<label>per page <select id="page-size">{page_sizes}</select></label>
</div>
<div class="nav"><button id="prev">← previous</button><span id="pageinfo"></span><button id="next">next →</button><span id="count"></span></div>
</header>
<main id="list"></main>
<script type="application/json" id="data">{data}</script>
<script>
{js}
</script>
</body>
</html>
"""


def embed_json(data: Any) -> str:
    """``data`` as JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` is left raw."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _asset(name: str) -> str:
    text = resources.files("satori.viewer").joinpath(name).read_text(encoding="utf-8")
    assert "</script" not in text.lower(), f"{name} must not contain a closing script tag"
    return text


def render_page(table: Table, title: str, page_size: int = 25) -> str:
    """The page's HTML for ``table``."""
    if page_size not in PAGE_SIZES:
        raise ValueError(f"page size {page_size} is not one of {', '.join(map(str, PAGE_SIZES))}")
    sizes = "".join(f'<option value="{n}"{" selected" if n == page_size else ""}>{n}</option>' for n in PAGE_SIZES)
    return TEMPLATE.format(title=html.escape(title), css=_asset("viewer.css"), js=_asset("viewer.js"),
                           page_sizes=sizes, data=embed_json(table.to_json()))


def write_page(paths: list[str | Path], out: str | Path, title: str | None = None, page_size: int = 25) -> Table:
    """Read the trajectories under ``paths`` and write their page to ``out``; returns what was read."""
    table = load(paths)
    names = ", ".join(s["name"] for s in table.sources)
    atomic_write_text(out, render_page(table, title or f"satori trajectories: {names}", page_size))
    return table
