"""The review page's HTML: pure functions from a ``PageView`` to a string, escaped with
``html.escape``. Inline CSS, no script, no font or image from elsewhere: the page works
offline and sends nothing to anyone (links to the videos carry no referrer)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from html import escape
from urllib.parse import urlencode

from bot.alignment import ALIGNMENT_HEADING, Alignment
from bot.citations import citation_for, citation_label
from bot.courses import Course
from bot.digest_charts import WEEKDAYS
from bot.models import AR_GRADES
from bot.outcome import outcome
from bot.review import FILTERS, Filter, ReviewItem, ReviewWeek
from bot.review_links import ReviewAccess, review_path

FILTER_LABELS: dict[Filter, str] = {
    "todas": "Todas",
    "negativas": "👎 dos alunos",
    "ar_baixo": "AR baixo",
    "abstencoes": "Sem base nas aulas",
    "fallback": "Sem IA (fallback)",
    "escaladas": "Escaladas",
    "sem_nota": "Sem nota de monitor",
}
OUTCOME_LABELS = {
    "answered": "respondida",
    "abstained": "sem base nas aulas",
    "fallback": "sem IA (fallback)",
    "failed": "falhou",
}
JUDGE_WAITING = {
    "pending": "aguardando o juiz",
    "judge_failed": "o juiz falhou; será tentado de novo",
    "abstained": "não julgada: sem base nas aulas",
    "fallback": "não julgada: resposta sem IA",
    "failed": "não julgada: a pergunta falhou",
}
NO_REFERRER = 'rel="noreferrer noopener" target="_blank"'

REFUSED_HTML = (
    "<!doctype html><html lang=pt-BR><meta charset=utf-8><title>Acesso negado</title>"
    "<h1>403 · Acesso negado</h1><p>Este link não vale (expirou, foi alterado ou é de outra "
    "disciplina). Peça um novo com <code>/review</code> no chat da disciplina.</p></html>"
)


INVALID_GRADE_HTML = (
    "<!doctype html><html lang=pt-BR><meta charset=utf-8><title>Nota inválida</title>"
    "<h1>Nota inválida</h1><p>Escolha C ou I e, se quiser, um AR de 0 a 3; volte e tente "
    "de novo.</p></html>"
)
NOT_READ_HTML = (
    "<!doctype html><html lang=pt-BR><meta charset=utf-8><title>Indisponível</title>"
    "<h1>Página indisponível agora</h1><p>Não consegui ler o registro das perguntas (o erro "
    "foi registrado). Tente de novo em instantes.</p></html>"
)
NOT_SAVED_HTML = (
    "<!doctype html><html lang=pt-BR><meta charset=utf-8><title>Nota não salva</title>"
    "<h1>Nota não salva</h1><p>Não consegui guardar a nota (o erro foi registrado). Nada foi "
    "salvo; volte e tente de novo em instantes.</p></html>"
)
UNKNOWN_ANSWER_HTML = (
    "<!doctype html><html lang=pt-BR><meta charset=utf-8><title>Resposta não encontrada</title>"
    "<h1>Resposta não encontrada</h1><p>Esta resposta não é desta disciplina ou não existe.</p>"
    "</html>"
)


@dataclass(frozen=True)
class PageView:
    """Everything one page shows, and what its links and forms must carry along."""

    week: ReviewWeek
    alignment: Alignment  # the judge against the TAs' grades of the week
    access: ReviewAccess
    token: str
    chosen: Filter = "todas"
    query: str = ""
    saved: str = ""  # the interaction just graded, to confirm it


def page_url(view: PageView, **changes: str) -> str:
    """The page's own address with the link's token and the current week, filter and search,
    with ``changes`` applied (e.g. ``f="negativas"``)."""
    params = {"semana": view.week.week_start.isoformat(), "f": view.chosen, "q": view.query}
    return page_url_for(view.week.course.id, view.token, **(params | changes))


def page_url_for(course_id: str, token: str, **params: str) -> str:
    """A course's page address with the token and ``params`` (those with a value)."""
    kept = {k: v for k, v in ({"t": token} | params).items() if v and (k, v) != ("f", "todas")}
    return f"{review_path(course_id)}?{urlencode(kept)}"


def render_page(view: PageView) -> str:
    week, course = view.week, view.week.course
    shown = week.shown(view.chosen, view.query, keep=view.saved)
    title = f"Revisão · {course.name}"
    parts = [
        _head(title),
        "<body><main>",
        f"<header><h1>{escape(title)}</h1>{_week_nav(view)}{_validity(view)}</header>",
        _alignment(view),
        _filters(view),
        _search(view),
        f'<p class="count">{_count_text(len(shown), len(week.items))}</p>',
        *(_item(view, item) for item in shown),
        "</main></body></html>",
    ]
    return "\n".join(parts)


def _head(title: str) -> str:
    return (
        "<!doctype html><html lang=pt-BR><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
    )


def _week_nav(view: PageView) -> str:
    start = view.week.week_start
    end = start + timedelta(days=6)
    earlier = page_url(view, semana=(start - timedelta(days=7)).isoformat())
    later = page_url(view, semana=(start + timedelta(days=7)).isoformat())
    return (
        f'<p class="week"><a href="{escape(earlier)}">← semana anterior</a> '
        f"<strong>Semana de {start:%d/%m/%Y} a {end:%d/%m/%Y}</strong> "
        f'<a href="{escape(later)}">semana seguinte →</a></p>'
    )


def _validity(view: PageView) -> str:
    until = _local(view.week.course, view.access.expires_at)
    return f'<p class="muted">Link pessoal, válido até {until:%d/%m às %H:%M}.</p>'


def _alignment(view: PageView) -> str:
    """The judge against the TAs' grades of the week: the figures, the two matrices, the
    worst disagreements and the answers proposed for grading, each linked to."""
    a = view.alignment
    parts = [f"<h2>{ALIGNMENT_HEADING} <span class=muted>(nesta semana)</span></h2>"]
    if a.graded == 0:
        parts.append(
            '<p data-figure="graded" data-value="0">Nenhuma resposta avaliada por monitores '
            "ainda: as notas que você der aqui medem o quanto confiar no juiz.</p>"
        )
    else:
        parts.append(f"<p>Respostas avaliadas por monitores: {_fig('graded', a.graded)}</p>")
        parts += [_binary(a), _scores(a)]
    parts += [_worst(view), _proposed(view)]
    return f'<section class="alignment" id="alinhamento">{"".join(parts)}</section>'


def _fig(name: str, value: float | None, digits: int = 0) -> str:
    """A figure the page shows, marked so a reader (or a test) finds it by name."""
    shown = "—" if value is None else f"{value:.{digits}f}"
    return f'<b data-figure="{name}" data-value="{shown}">{shown}</b>'


def _binary(a: Alignment) -> str:
    if a.binary is None:
        return "<p>C/I: nenhuma resposta avaliada também pelo juiz.</p>"
    b, m = a.binary, a.binary.confusion
    table = (
        "<table><tr><th></th><th>juiz C</th><th>juiz I</th></tr>"
        f"<tr><th>monitor C</th><td>{m.cc}</td><td>{m.ci}</td></tr>"
        f"<tr><th>monitor I</th><td>{m.ic}</td><td>{m.ii}</td></tr></table>"
    )
    return (
        f"<p>C/I com o juiz (C a partir de {a.pass_score}/3), em {_fig('binary_n', b.n)}: "
        f"acurácia {_fig('accuracy', b.accuracy, 2)} · κ de Cohen {_fig('kappa', b.kappa, 2)}"
        f"</p>{table}"
    )


def _scores(a: Alignment) -> str:
    if not a.scored:
        return "<p>Notas 0–3: nenhuma resposta com nota AR do monitor e do juiz.</p>"
    header = "".join(f"<th>juiz {s}</th>" for s in AR_GRADES)
    rows = "".join(
        f"<tr><th>monitor {g}</th>{''.join(f'<td>{n}</td>' for n in row)}</tr>"
        for g, row in zip(AR_GRADES, a.matrix, strict=True)
    )
    return (
        f"<p>Notas AR 0–3, em {_fig('scored', a.scored)}: κ ponderado (quadrático) "
        f"{_fig('weighted_kappa', a.weighted_kappa, 2)} · Spearman "
        f"{_fig('spearman', a.spearman, 2)}</p><table><tr><th></th>{header}</tr>{rows}</table>"
    )


def _worst(view: PageView) -> str:
    worst = view.alignment.worst
    if not worst:
        return ""
    rows = []
    for d in worst:
        ta = f"{d.ta_label}" + ("" if d.ta_ar_grade is None else f", AR {d.ta_ar_grade}")
        rows.append(
            f"<li>{_link_to(view, d.interaction_id, d.question)} — juiz {d.judge_score}/3, "
            f"monitor {ta}<br><span class=muted>Juiz:</span> {escape(d.judge_reasoning)}"
            f"<br><span class=muted>Monitor:</span> {escape(d.ta_note) or '(sem comentário)'}"
            "</li>"
        )
    return (
        f"<details><summary>Maiores divergências ({len(worst)})</summary>"
        f"<ol>{''.join(rows)}</ol></details>"
    )


def _proposed(view: PageView) -> str:
    proposed = view.alignment.proposed
    if not proposed:
        return ""
    rows = "".join(
        f"<li>{_link_to(view, p.interaction_id, p.question)} "
        f"<span class=muted>(juiz {p.judge_score}/3)</span></li>"
        for p in proposed
    )
    return (
        "<details><summary>Para avaliar: uma amostra das respostas sem nota, estratificada pela "
        f"nota do juiz ({len(proposed)})</summary><ol>{rows}</ol></details>"
    )


def _link_to(view: PageView, interaction_id: str, text: str) -> str:
    """A link to an interaction on this week's page, found by its id."""
    href = page_url(view, f="todas", q=interaction_id)
    return f'<a href="{escape(href)}#i-{escape(interaction_id)}">{escape(text)}</a>'


def _filters(view: PageView) -> str:
    counts = view.week.counts()
    links = []
    for key in FILTERS:
        label = f"{FILTER_LABELS[key]} ({counts[key]})"
        current = ' aria-current="page" class="on"' if key == view.chosen else ""
        href = escape(page_url(view, f=key))
        links.append(f'<a href="{href}"{current} data-filter="{key}">{escape(label)}</a>')
    return f'<nav class="filters" aria-label="Filtros">{"".join(links)}</nav>'


def _search(view: PageView) -> str:
    hidden = _hidden(t=view.token, semana=view.week.week_start.isoformat(), f=view.chosen)
    return (
        f'<form class="search" method="get" action="{escape(review_path(view.week.course.id))}">'
        f'{hidden}<input type=search name=q value="{escape(view.query)}" '
        'placeholder="Buscar na pergunta ou na resposta" aria-label="Buscar">'
        "<button>Buscar</button></form>"
    )


def _count_text(shown: int, total: int) -> str:
    if total == 0:
        return "Nenhuma pergunta nesta semana."
    return f"{shown} de {total} perguntas da semana."


def _item(view: PageView, item: ReviewItem) -> str:
    i = item.interaction
    badges = [f'<span class="badge {outcome(i)}">{OUTCOME_LABELS[outcome(i)]}</span>']
    if i.escalated:
        badges.append('<span class="badge escalated">escalada</span>')
    when = _local(view.week.course, i.created_at)
    saved = '<p class="saved" role="status">✔ Nota salva.</p>' if view.saved == i.id else ""
    return (
        f'<article class="item" id="i-{escape(i.id)}">'
        f'<p class="meta">{WEEKDAYS[when.weekday()]} {when:%d/%m %H:%M} · {escape(i.platform)}'
        f" · ref <code>{escape(i.id)}</code> {''.join(badges)}</p>"
        f'<h2 class="question">{escape(i.question)}</h2>'
        f'<div class="answer">{escape(i.answer) or "<em>(sem resposta)</em>"}</div>'
        f"{_cited(item)}{_retrieved(item)}{_votes(item)}{_judge(item)}{_grade(view, item)}"
        f"{saved}{_grade_form(view, item)}</article>"
    )


def _cited(item: ReviewItem) -> str:
    citations = item.interaction.citations
    if not citations:
        return '<p class="cited muted">Nenhum momento citado.</p>'
    links = ", ".join(
        f'<a href="{escape(c.url)}" {NO_REFERRER}>{escape(citation_label(c))}</a>'
        for c in citations
    )
    return f'<p class="cited"><b>Momentos citados:</b> {links}</p>'


def _retrieved(item: ReviewItem) -> str:
    segments = item.interaction.retrieved
    if not segments:
        return ""
    rows = []
    for r in segments:
        moment = citation_for(r.segment)
        cited = ' <span class="badge answered">citado</span>' if r.cited else ""
        rows.append(
            f'<li><a href="{escape(moment.url)}" {NO_REFERRER}>{escape(citation_label(moment))}'
            f'</a> <span class="muted">score {r.score:.3f}</span>{cited}'
            f"<blockquote>{escape(r.segment.text)}</blockquote></li>"
        )
    return (
        f"<details><summary>Trechos recuperados ({len(segments)})</summary>"
        f'<ol class="retrieved">{"".join(rows)}</ol></details>'
    )


def _votes(item: ReviewItem) -> str:
    votes = item.votes
    annotation = f" · anotação dos votos: <b>{votes.annotation}</b>" if votes.annotation else ""
    return f'<p class="votes">Votos dos alunos: 👍 {votes.up} · 👎 {votes.down}{annotation}</p>'


def _judge(item: ReviewItem) -> str:
    judgement = item.judgement
    if judgement is None:
        waiting = JUDGE_WAITING.get(item.judge_status, item.judge_status)
        return f'<p class="judge muted">Juiz: {escape(waiting)}.</p>'
    return (
        f'<div class="judge"><p><b>Juiz: {judgement.score}/3</b> (AR {judgement.ar:.2f})</p>'
        f'<p class="reasoning">{escape(judgement.reasoning)}</p></div>'
    )


def _grade(view: PageView, item: ReviewItem) -> str:
    grade = item.grade
    if grade is None:
        return ""
    ar = f" · AR {grade.ar_grade}" if grade.ar_grade is not None else ""
    note = f" · “{escape(grade.note)}”" if grade.note else ""
    who = "você" if grade.grader_ref == view.access.ta_ref else f"<code>{grade.grader_ref}</code>"
    when = _local(view.week.course, grade.at)
    return (
        f'<p class="graded">Nota do monitor: <b class="label-{grade.label}">{grade.label}</b>'
        f"{ar}{note} <span class=muted>({who}, {when:%d/%m %H:%M})</span></p>"
    )


def _grade_form(view: PageView, item: ReviewItem) -> str:
    i, grade = item.interaction, item.grade
    hidden = _hidden(
        t=view.token,
        id=i.id,
        semana=view.week.week_start.isoformat(),
        f=view.chosen,
        q=view.query,
    )
    # The current grade is filled in, so a TA changes one part without retyping the rest.
    label, ar, note = (grade.label, grade.ar_grade, grade.note) if grade else ("", None, "")
    labels = "".join(
        f"<label><input type=radio name=rotulo value={value} required"
        f"{' checked' if value == label else ''}> {value} ({meaning})</label>"
        for value, meaning in (("C", "correta"), ("I", "incorreta"))
    )
    ar_options = "".join(
        f"<option value={n}{' selected' if n == ar else ''}>{n}</option>" for n in range(4)
    )
    action = f"{review_path(view.week.course.id)}/nota"
    return (
        f'<form class="grade" method="post" action="{escape(action)}">{hidden}'
        f"<fieldset><legend>{'Mudar a nota' if grade else 'Dar nota'}</legend>{labels}"
        f'<label>AR <select name=ar><option value="">—</option>{ar_options}</select></label>'
        '<label class="note">Comentário <input name=comentario maxlength=1000 '
        f'value="{escape(note)}"></label><button>Salvar nota</button></fieldset></form>'
    )


def _hidden(**fields: str) -> str:
    return "".join(
        f'<input type=hidden name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )


def _local(course: Course, moment: datetime) -> datetime:
    return moment.astimezone(course.tz)


def parse_week(text: str | None) -> date | None:
    """The ``semana`` parameter (any day of the week, YYYY-MM-DD); None if absent or not one."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def parse_filter(text: str | None) -> Filter:
    return next((f for f in FILTERS if f == text), "todas")


CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--accent:#0b5cad}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);
background:var(--bg)}
main{max-width:960px;margin:0 auto;padding:16px}
h1{font-size:1.4rem;margin:.2em 0}
h2.question{font-size:1.05rem;margin:.3em 0}
a{color:var(--accent)}
.muted{color:var(--muted)}
.week a{margin:0 .5em}
.filters{display:flex;flex-wrap:wrap;gap:6px;margin:12px 0}
.filters a{padding:4px 10px;border:1px solid var(--line);border-radius:999px;background:#fff;
text-decoration:none}
.filters a.on{background:var(--accent);border-color:var(--accent);color:#fff}
.search{display:flex;gap:6px;margin-bottom:8px}
.search input{flex:1;padding:6px 8px;border:1px solid var(--line);border-radius:6px}
button{padding:6px 12px;border:1px solid var(--accent);border-radius:6px;background:var(--accent);
color:#fff;cursor:pointer}
.item{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px;
margin:12px 0}
.meta{margin:0;color:var(--muted);font-size:.85rem}
.answer{white-space:pre-wrap;border-left:3px solid var(--line);padding-left:10px}
.badge{display:inline-block;padding:0 8px;border-radius:999px;font-size:.8rem;background:#e7ecf0}
.badge.answered{background:#dafbe1}.badge.abstained{background:#fff8c5}
.badge.fallback{background:#ffebe9}.badge.failed{background:#ffcecb}
.badge.escalated{background:#ddf4ff}
blockquote{margin:4px 0 8px;color:var(--muted);font-size:.9rem}
.judge{background:var(--bg);border-radius:6px;padding:4px 10px}
.judge p{margin:4px 0}
.reasoning{font-size:.9rem;white-space:pre-wrap}
fieldset{border:1px solid var(--line);border-radius:6px;display:flex;flex-wrap:wrap;gap:10px;
align-items:center}
.note{flex:1;display:flex;gap:6px}.note input{flex:1}
.saved{color:#1a7f37;font-weight:600}
.graded{background:#fff8c5;border-radius:6px;padding:4px 10px}
.label-C{color:#1a7f37}.label-I{color:#cf222e}
.alignment{background:#fff;border:1px solid var(--line);border-radius:8px;padding:4px 16px}
.alignment h2{font-size:1.05rem}
table{border-collapse:collapse;margin:6px 0}
td,th{border:1px solid var(--line);padding:2px 8px;text-align:right}
"""
