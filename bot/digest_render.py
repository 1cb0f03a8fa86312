"""The digest as files: a Markdown text, a self-contained HTML page (inline CSS, the charts
embedded as data URIs: no CDN, no JavaScript) and its PNG charts, all named after the course
and the week (``python -m bot digest --out DIR``)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path

from bot.digest import render_digest_markdown
from bot.digest_week import split_links
from bot.models import Chart, Digest

QUESTIONS_CHART = "perguntas"
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto;
       padding: 0 1rem; color: #1d2330; line-height: 1.45; }
h1 { font-size: 1.5rem; border-bottom: 2px solid #4C72B0; padding-bottom: .3rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; color: #2c4a7a; }
h3 { font-size: 1rem; margin: 1.2rem 0 .3rem; }
ul { padding-left: 1.3rem; } li { margin: .15rem 0; }
a { color: #2c4a7a; }
figure { margin: 1.5rem 0; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: .85rem; color: #5a6475; }
"""


@dataclass(frozen=True)
class DigestFiles:
    markdown: Path
    html: Path
    charts: tuple[Path, ...]


def digest_charts(digest: Digest) -> tuple[Chart, ...]:
    """Every chart of the digest: the chat's first."""
    if digest.chart_png is None:
        return digest.extra_charts
    first = Chart(QUESTIONS_CHART, "Perguntas por dia", digest.chart_png)
    return (first, *digest.extra_charts)


def file_stem(digest: Digest) -> str:
    return f"resumo-{digest.course_id}-{digest.week_start:%Y-%m-%d}"


def _inline(line: str) -> str:
    """A line as HTML: escaped, its Markdown links made anchors."""
    return "".join(
        f'<a href="{html.escape(url, quote=True)}">{html.escape(text)}</a>'
        if url
        else html.escape(text)
        for text, url in split_links(line)
    )


def render_digest_html(digest: Digest) -> str:
    """One page that needs nothing else: every section, then every chart."""
    title = digest.sections[0].heading if digest.sections else file_stem(digest)
    body = []
    for section in digest.sections:
        level = min(max(section.level, 1), 6)
        body.append(f"<h{level}>{html.escape(section.heading)}</h{level}>")
        items = "".join(f"<li>{_inline(line)}</li>" for line in section.lines)
        body.append(f"<ul>{items}</ul>" if items else "")
    for chart in digest_charts(digest):
        data = base64.b64encode(chart.png).decode("ascii")
        caption = html.escape(chart.title)
        body.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="pt-BR">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


def write_digest(digest: Digest, out_dir: Path) -> DigestFiles:
    """The Markdown, the HTML page and the PNG charts, in ``out_dir`` (created)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = file_stem(digest)
    markdown = out_dir / f"{stem}.md"
    markdown.write_text(render_digest_markdown(digest), encoding="utf-8")
    page = out_dir / f"{stem}.html"
    page.write_text(render_digest_html(digest), encoding="utf-8")
    charts = []
    for chart in digest_charts(digest):
        path = out_dir / f"{stem}-{chart.name}.png"
        path.write_bytes(chart.png)
        charts.append(path)
    return DigestFiles(markdown, page, tuple(charts))
