"""The report export: the seed's interaction rebuilt from stored rows renders to the seed
byte for byte (golden test), plus the states the seed does not show and the record formats."""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import retrieval.__main__ as retrieval_cli
from bot.cli import evaluate as evaluate_cli
from bot.cli import report as report_cli
from bot.cli.evaluate import hit_rate, load_eval_questions, render_summary, summarise
from bot.config import Settings
from bot.judge_prompts import TOOL_NAME
from bot.models import (
    Citation,
    Interaction,
    Judgement,
    JudgementRecord,
    Question,
    RetrievedSegment,
    Segment,
    StageTimings,
    TAGrade,
    Usage,
    Vote,
)
from bot.report import (
    FORMATS,
    build_entries,
    hide_links,
    load_entries,
    render,
    render_csv,
    render_jsonl,
    render_markdown,
)
from bot.store import SqlStore
from retrieval.errors import InputError
from retrieval.evaluate import GoldQuestion
from tests.fakes.anthropic_server import (
    FakeAnthropic,
    RecordedRequest,
    Reply,
    cited_reply,
    tool_use_reply,
)
from tests.fakes.core import FakeAnswerModel, make_service, says

SEED = Path(__file__).parent / "data" / "seed_report.md"
T0 = datetime(2025, 3, 11, 14, 30, tzinfo=UTC)
SEGMENT = re.compile(
    r"- \*Corpus ID:\* (?P<id>.+)\n- \*Score:\* (?P<score>.+)\n- \*URL:\* oculto\n"
    r"- \*Início:\* (?P<start>\d\d:\d\d:\d\d)\n- \*Fim:\* (?P<end>\d\d:\d\d:\d\d)\n"
    r"- \*Transcrição:\* (?P<text>.+)\n"
)


@dataclass(frozen=True)
class SeedValues:
    number: int
    question: str
    segments: list[dict[str, str]]
    answer: str
    criteria: str
    evidence: str
    score: int


def parse_seed(text: str) -> SeedValues:
    def field(name: str) -> str:
        found = re.search(rf"^\*\*{re.escape(name)}\*\*: (.*)$", text, re.MULTILINE)
        assert found, f"seed has no {name} line"
        return found.group(1)

    head = re.match(r"\*\*Pergunta (\d+)\*\*: (.*)\n", text)
    assert head
    cot = re.fullmatch(
        r"Criteria: (.*) Supporting Evidence: (.*) Score: (\d)", field("Raciocínio (AR CoT)")
    )
    assert cot
    return SeedValues(
        number=int(head.group(1)),
        question=head.group(2),
        segments=[m.groupdict() for m in SEGMENT.finditer(text)],
        answer=field("Resposta gerada pelo LLM"),
        criteria=cot.group(1),
        evidence=cot.group(2),
        score=int(cot.group(3)),
    )


def seconds(hms: str) -> float:
    hours, minutes, secs = (int(part) for part in hms.split(":"))
    # A fraction of a second on top: the report must floor it, as format_hms does.
    return hours * 3600 + minutes * 60 + secs + 0.48


def seed_interaction(
    seed: SeedValues, interaction_id: str = "01JPSEED000000000000000001"
) -> Interaction:
    retrieved = tuple(
        RetrievedSegment(
            rank=rank,
            score=float(s["score"]),
            dense_score=float(s["score"]),
            cited=rank == 1,
            segment=Segment(
                id=s["id"],
                course_id="dl",
                video_id=f"vid{int(s['id']) // 100:08d}",
                title=f"Aula {int(s['id']) // 100}",
                url=f"https://youtu.be/vid{int(s['id']) // 100:08d}",
                start_s=seconds(s["start"]),
                end_s=seconds(s["end"]),
                text=s["text"],
            ),
        )
        for rank, s in enumerate(seed.segments, 1)
    )
    top = retrieved[0].segment
    citation = Citation(
        top.id, top.video_id, top.title, top.start_s, top.end_s, f"{top.url}?t={int(top.start_s)}"
    )
    return Interaction(
        id=interaction_id,
        created_at=T0,
        platform="discord",
        course_id="dl",
        channel="c",
        thread="t",
        asker_ref="u_1",
        question=seed.question,
        answer=seed.answer,
        abstained=False,
        fallback=False,
        model="claude-test",
        usage=Usage(900, 60),
        timings=StageTimings(10.0, 5.0, 800.0, 815.0),
        error="",
        retrieved=retrieved,
        citations=(citation,),
    )


@pytest.fixture
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture
def seeded(store: SqlStore, seed_text: str) -> tuple[SqlStore, Interaction]:
    """The seed's interaction as stored rows: segments, answer, a TA 👍 and the judgement."""
    seed = parse_seed(seed_text)
    interaction = seed_interaction(seed)
    store.save_interaction(interaction)
    store.save_vote(Vote(interaction.id, "student", -1, T0 + timedelta(minutes=1)))
    store.save_vote(Vote(interaction.id, "ta", 1, T0 + timedelta(minutes=2), is_ta=True))
    store.save_judgement(Judgement(interaction.id, seed.score, seed.criteria, seed.evidence, "j"))
    return store, interaction


def test_seed_parses_into_ten_segments(seed_text: str) -> None:
    seed = parse_seed(seed_text)
    assert seed.number == 118
    assert [s["id"] for s in seed.segments][:3] == ["7961", "7721", "7718"]
    assert len(seed.segments) == 10
    assert seed.segments[0]["score"] == "0.837855339050293"


def test_golden_seed_report_from_stored_rows(
    seeded: tuple[SqlStore, Interaction], seed_text: str
) -> None:
    store, _ = seeded
    entries = load_entries(store, "dl", pass_score=2, start=118)
    rendered = render_markdown(entries, hide_urls=True)
    assert rendered.split("\n") == seed_text.split("\n")  # field by field, with a diff
    assert rendered.encode("utf-8") == seed_text.encode("utf-8")


def test_golden_through_the_cli(
    seeded: tuple[SqlStore, Interaction],
    seed_text: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database_url = seeded[0].db.engine.url.render_as_string(hide_password=False)
    out = tmp_path / "report.md"
    args = argparse.ArgumentParser()
    commands = args.add_subparsers()
    report_cli.add_parser(commands)
    parsed = args.parse_args(
        [
            "report",
            "--course",
            "dl",
            "--hide-urls",
            "--start",
            "118",
            "--out",
            str(out),
            "--since",
            "2025-03-11",
            "--until",
            "2025-03-11",
        ]
    )
    assert parsed.run(parsed, Settings(database_url=database_url)) == 0
    assert out.read_bytes() == seed_text.encode("utf-8")
    # The seed's question: a TA's 👍 (C) and the judge's 3/3 (C) agree.
    err = capsys.readouterr().err
    assert "agreement on 1 interaction(s)" in err
    # Logged without a version (as before versions were recorded)
    assert "versions: (sem versão) (1 interaction(s), 2025-03-11 to 2025-03-11)" in err
    outside = args.parse_args(
        ["report", "--course", "dl", "--out", str(out), "--since", "2025-03-12"]
    )
    assert outside.run(outside, Settings(database_url=database_url)) == 0
    assert out.read_text() == ""


def test_the_cli_shows_the_judges_alignment_with_the_ta_grades(
    seeded: tuple[SqlStore, Interaction],
    seed_text: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store, interaction = seeded  # the judge gave 3/3
    grader = "u_0123456789abcdef0123"
    store.save_grade(TAGrade(interaction.id, grader, "I", T0, 1, "Ver https://x.io/b."))
    database_url = store.db.engine.url.render_as_string(hide_password=False)
    out = tmp_path / "report.md"
    args = argparse.ArgumentParser()
    report_cli.add_parser(args.add_subparsers())
    parsed = args.parse_args(
        ["report", "--course", "dl", "--hide-urls", "--alignment", "--out", str(out)]
    )

    assert parsed.run(parsed, Settings(database_url=database_url)) == 0

    err = capsys.readouterr().err
    assert "alignment with 1 TA grade(s); C/I on 1: accuracy 0.00" in err
    assert "0-3 on 1: weighted kappa 0.00, Spearman n/a" in err  # one pair: no correlation
    report, section = out.read_text().split("\n## Alinhamento do juiz com as notas dos monitores\n")
    assert "**Anotação manual**: I\n" in report
    assert "- Respostas avaliadas por monitores: 1\n" in section
    assert f"- Divergência: “{interaction.question}” — juiz 3/3, monitor I, nota 1" in section
    assert "- Nota do monitor: Ver oculto.\n" in section
    assert "- Raciocínio do juiz: Criteria: The RESPONSE must be relevant" in section


def test_visible_urls_are_deep_links_and_labels(seeded: tuple[SqlStore, Interaction]) -> None:
    store, interaction = seeded
    text = render_markdown(load_entries(store, "dl"))
    top = interaction.retrieved[0].segment
    assert f"- *URL:* https://youtu.be/{top.video_id}?t=721\n" in text
    assert (
        f"**Referências**:\n- [{top.title} · 12:01–14:48](https://youtu.be/{top.video_id}?t=721)\n"
        in text
    )
    assert text.startswith("**Pergunta 1**: ")


def entry_text(interaction: Interaction) -> str:
    """The Markdown of an interaction with no votes and no judge outcome."""
    return render_markdown(build_entries([interaction], {}, {}))


def test_states_the_seed_does_not_show(seed_text: str) -> None:
    interaction = seed_interaction(parse_seed(seed_text))
    pending = entry_text(interaction)
    assert "**Anotação manual**:\n" in pending
    assert "**Answer Relevance (AR)**: pendente\n" in pending
    assert "**Anotação automatizada**:\n" in pending
    assert "**Raciocínio (AR CoT)**:\n" in pending

    abstained = entry_text(replace(interaction, abstained=True, citations=()))
    assert "**Answer Relevance (AR)**: não avaliada (abstenção)\n" in abstained
    assert "**Referências**:\n- (nenhuma)\n" in abstained
    fallback = entry_text(replace(interaction, fallback=True))
    assert "**Answer Relevance (AR)**: não avaliada (resposta extrativa)\n" in fallback


def test_judge_failure_is_shown_not_scored(store: SqlStore, seed_text: str) -> None:
    interaction = seed_interaction(parse_seed(seed_text))
    store.save_interaction(interaction)
    store.save_judge_failure(interaction.id, "no usable verdict in 3 attempts", model="j")
    store.save_vote(Vote(interaction.id, "s1", -1, T0))
    text = render_markdown(load_entries(store, "dl"))
    assert "**Anotação manual**: I\n" in text
    assert "**Answer Relevance (AR)**: falha do juiz\n" in text
    assert "**Anotação automatizada**:\n" in text
    assert "**Raciocínio (AR CoT)**: no usable verdict in 3 attempts\n" in text


def test_low_score_is_automated_i_and_questions_are_separated(
    store: SqlStore, seed_text: str
) -> None:
    seed = parse_seed(seed_text)
    first = seed_interaction(seed)
    second = replace(
        seed_interaction(seed, "01JPSEED000000000000000002"), created_at=T0 + timedelta(1)
    )
    for interaction in (second, first):
        store.save_interaction(interaction)
    store.save_judgement(Judgement(first.id, 1, "c", "e"))
    text = render_markdown(load_entries(store, "dl", start=5))
    assert "**Answer Relevance (AR)**: 0.33\n\n**Anotação automatizada**: I\n" in text
    assert "Score: 1\n\n\n---\n\n**Pergunta 6**: " in text
    assert text.startswith("**Pergunta 5**: ") and text.endswith("---\n")


def test_jsonl_has_every_field_nested(seeded: tuple[SqlStore, Interaction]) -> None:
    store, interaction = seeded
    lines = render_jsonl(load_entries(store, "dl", start=118), hide_urls=True).splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["number"] == 118
    assert record["id"] == interaction.id
    assert record["manual_annotation"] == "C" and record["ta_vote"] == 1
    assert (record["votes_up"], record["votes_down"]) == (1, 1)
    assert (record["ar_status"], record["ar_score"], record["ar"]) == ("ok", 3, 1.0)
    assert record["automated_annotation"] == "C"
    assert record["ar_evidence"].endswith("PROMPT. ")
    assert len(record["segments"]) == 10
    first = record["segments"][0]
    assert first["segment_id"] == "7961" and first["score"] == 0.837855339050293
    assert first["url"] == "" and first["cited"] is True
    assert record["citations"][0]["label"] == "Aula 79 · 12:01–14:48"
    assert record["created_at"] == "2025-03-11T14:30:00+00:00"


def test_a_ta_grade_is_the_manual_annotation_over_the_votes_in_every_format(
    seeded: tuple[SqlStore, Interaction],
) -> None:
    store, interaction = seeded  # the votes say C (a TA's 👍)
    grader = "u_0123456789abcdef0123"
    store.save_grade(TAGrade(interaction.id, grader, "C", T0 + timedelta(hours=1)))
    store.save_grade(
        TAGrade(interaction.id, grader, "I", T0 + timedelta(hours=2), 1, "ver https://x.io/a")
    )
    entries = load_entries(store, "dl")

    assert "**Anotação manual**: I\n" in render_markdown(entries)
    record = json.loads(render_jsonl(entries, hide_urls=True))
    assert (record["manual_annotation"], record["ta_vote"]) == ("I", 1)
    assert (record["ta_grade"], record["ta_ar_grade"], record["ta_grader"]) == ("I", 1, grader)
    assert record["ta_note"] == "ver oculto"
    assert record["ta_graded_at"] == "2025-03-11T16:30:00+00:00"
    row = next(csv.DictReader(io.StringIO(render_csv(entries))))
    assert (row["manual_annotation"], row["ta_grade"], row["ta_ar_grade"]) == ("I", "I", "1")


def test_csv_is_one_row_per_interaction(seeded: tuple[SqlStore, Interaction]) -> None:
    store, interaction = seeded
    rows = list(csv.DictReader(io.StringIO(render_csv(load_entries(store, "dl")))))
    assert len(rows) == 1
    row = rows[0]
    assert row["segment_ids"].split(";")[:2] == ["7961", "7721"]
    assert row["segment_scores"].split(";")[0] == "0.837855339050293"
    assert row["cited_segment_ids"] == "7961"
    assert row["citation_urls"] == interaction.citations[0].url
    assert (row["manual_annotation"], row["automated_annotation"]) == ("C", "C")
    assert render_csv([]) == ""


# The export's layout is a contract with whoever reads the files: same columns, same order.
CSV_HEADER = (
    "number,id,created_at,course_id,platform,channel,thread,asker_ref,question,answer,"
    "abstained,fallback,escalated,flags,error,model,input_tokens,output_tokens,embed_ms,"
    "search_ms,generate_ms,total_ms,version,repeat_of,votes_up,votes_down,ta_vote,"
    "manual_annotation,ar_status,ar_score,ar,"
    "automated_annotation,ar_criteria,ar_evidence,judge_model,judge_error,groundedness,"
    "ta_grade,ta_ar_grade,ta_note,ta_grader,ta_graded_at,"
    "segment_ids,segment_scores,segment_dense_scores,cited_segment_ids,citation_urls"
)


def test_csv_and_jsonl_keep_their_columns_in_order(seeded: tuple[SqlStore, Interaction]) -> None:
    store, _ = seeded
    entries = load_entries(store, "dl")
    assert render_csv(entries).splitlines()[0] == CSV_HEADER
    # JSON Lines nests the lists that CSV joins into its last five columns.
    flat = CSV_HEADER.split(",")[:-5]
    keys = list(json.loads(render_jsonl(entries)))
    assert keys == [*flat[:24], "segments", "citations", *flat[24:]]


# -- hidden links: every one, in every format, in both kinds of answer ---------------------

CLAUDE_WITH_LINKS = (
    "A saída usa convolução 1x1 ([Aula 3 · 12:01–14:31](https://youtu.be/mlvid000001?t=721)); "
    "veja <https://youtu.be/mlvid000001?t=601|o encoder>, <https://youtu.be/x?t=9> e "
    "https://youtu.be/mlvid000002?t=95."
)


async def _logged(tmp_path: Path, model: FakeAnswerModel) -> SqlStore:
    service = make_service(tmp_path, answer_model=model)
    question = Question(
        course_id="ml", text="Qual a camada de saída da U-Net?", platform="cli", asker="a"
    )
    await service.ask(question)
    assert isinstance(service.store, SqlStore)
    return service.store


@pytest.mark.parametrize(
    ("model", "shown"),
    [
        (FakeAnswerModel(fail=True), "1. Aula 3 · 12:01–14:31 — oculto\n"),  # the fallback
        (
            FakeAnswerModel(says(CLAUDE_WITH_LINKS)),
            "A saída usa convolução 1x1 (Aula 3 · 12:01–14:31); veja o encoder, oculto e oculto.",
        ),
    ],
    ids=["extractive-fallback", "claude-markdown"],
)
async def test_hide_urls_hides_every_link_in_every_format(
    tmp_path: Path, model: FakeAnswerModel, shown: str
) -> None:
    store = await _logged(tmp_path, model)
    entries = load_entries(store, "ml")
    [answer] = [e.interaction.answer for e in entries]
    assert "https://youtu.be/" in answer  # links to hide
    for fmt in FORMATS:
        visible = render(entries, fmt)
        hidden = render(entries, fmt, hide_urls=True)
        assert "youtu.be" in visible, fmt
        assert "youtu.be" not in hidden and "http" not in hidden, fmt
        assert shown in (json.loads(hidden)["answer"] if fmt == "jsonl" else hidden), fmt


def test_hide_links_keeps_labels_and_the_text_around_them() -> None:
    assert hide_links("ver [Aula 1](https://youtu.be/a?t=5).") == "ver Aula 1."
    assert hide_links("ver ![](https://x.org/i.png) e [](https://x.org)") == "ver oculto e oculto"
    assert hide_links("<https://youtu.be/a?t=5|Aula 1> e <@U123>") == "Aula 1 e <@U123>"
    assert hide_links("(em https://youtu.be/a?t=5), www.example.org/x!") == "(em oculto), oculto!"
    plain = "sem links: 12:01–14:48, a<b, [1], (x), e.g./i.e."
    assert hide_links(plain) == plain


# -- the evaluate command: questions in, summary out ---------------------------------------


def test_eval_questions_with_and_without_gold(tmp_path: Path) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_text(
        '{"id": "q1", "question": "O que é dropout?", "video_id": "v1", "start_s": 61.5, '
        '"end_s": 67}\n\n{"question": "Sem gabarito?"}\nO que é uma U-Net?\n',
        encoding="utf-8",
    )
    first, second, third = load_eval_questions(path)
    assert first.gold == GoldQuestion("q1", "O que é dropout?", "v1", 61.5, 67.0)
    assert (second.id, second.gold) == ("line3", None)
    assert (third.text, third.gold) == ("O que é uma U-Net?", None)
    assert len(load_eval_questions(path, limit=2)) == 2
    path.write_text('{"question": "ok"}\n{"question": \n', encoding="utf-8")
    with pytest.raises(InputError, match=r"questions.jsonl:2: not JSON"):
        load_eval_questions(path)
    path.write_text('{"question": "ok", "video_id": "v1"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"questions.jsonl:1: missing field\(s\): start_s, end_s"):
        load_eval_questions(path)


def test_eval_summary_counts_scores_and_hit_rates(seed_text: str) -> None:
    base = seed_interaction(parse_seed(seed_text))
    kinds = [{}, {}, {}, {"abstained": True}, {"fallback": True}, {"answer": "", "error": "x"}]
    interactions = [
        replace(base, id=f"01JPEVAL{n:018d}", created_at=T0 + timedelta(minutes=n), **changes)
        for n, changes in enumerate(kinds)
    ]
    records = {
        interactions[0].id: [_record(interactions[0].id, 3.0)],
        interactions[1].id: [_record(interactions[1].id, 1.0)],
    }
    entries = build_entries(interactions, {}, records)
    summary = summarise(entries, ranks=[1, 4, None, 12], k=10)
    assert (summary.abstentions, summary.fallbacks, summary.failures) == (1, 1, 1)
    assert (summary.judge_pending, summary.ar_scores) == (1, (3, 1))
    assert hit_rate(summary.ranks, 5) == 0.5
    text = render_summary(summary)
    assert "- Answer Relevance média: 0.67 (em 2 respostas)\n" in text
    assert "- Distribuição das notas (0–3): 0: 0, 1: 1, 2: 0, 3: 1\n" in text
    assert "- Juiz: 0 falha(s), 1 pendente(s)\n" in text
    assert "perguntas com gabarito): @1 0.25, @5 0.50, @10 0.50\n" in text
    unjudged = render_summary(summarise(entries, [], 10, "não executado: sem chave"))
    assert "- Juiz: não executado: sem chave\n" in unjudged
    assert "não têm gabarito" in unjudged


def _record(interaction_id: str, score: float) -> JudgementRecord:
    return JudgementRecord(
        interaction_id, "answer_relevance", "", "ok", score, "c", "e", "j", "", T0
    )


EVAL_COURSE = Path(__file__).parent / "data" / "eval_mini"


@pytest.fixture(scope="module")
def eval_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the evaluate tests: the second run finds the course already indexed."""
    return tmp_path_factory.mktemp("eval-cache")


def _evaluate(cache: Path, out: Path, settings: Settings, *options: str) -> int:
    parser = argparse.ArgumentParser()
    evaluate_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(
        [
            "evaluate",
            "--course-dir",
            str(EVAL_COURSE),
            "--questions",
            str(EVAL_COURSE / "questions.jsonl"),
            "--out",
            str(out),
            "--cache-dir",
            str(cache),
            *(options or ["--quiet"]),
        ]
    )
    result: int = args.run(args, settings)
    return result


def _claude(request: RecordedRequest) -> Reply:
    """The answer model gets a cited reply; the judge (offered a tool) a verdict of 3."""
    if request.body.get("tools"):
        verdict = {"criteria": "Relevant.", "supporting_evidence": "It answers.", "score": 3}
        return tool_use_reply(TOOL_NAME, verdict)
    reply = cited_reply(("Segundo a aula, é isso.", [0]))(request)
    assert isinstance(reply, Reply)
    return reply


@pytest.mark.slow
def test_evaluate_end_to_end_with_claude(
    eval_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeAnthropic() as api:
        api.responder = _claude
        settings = Settings(
            anthropic_api_key=api.api_key,
            anthropic_base_url=api.base_url,
            llm_max_retries=0,
        )
        assert _evaluate(eval_cache, tmp_path / "report.md", settings) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert report.startswith("**Pergunta 1**: Qual a função da camada de saída na rede U-Net?\n")
    assert "**Pergunta 3**: O que faz o dropout?\n" in report
    assert report.count("**Answer Relevance (AR)**: 1.00\n") == 3
    assert "Criteria: Relevant. Supporting Evidence: It answers. Score: 3" in report
    assert "- *URL:* https://youtu.be/unet0000001?t=721\n" in report
    summary = capsys.readouterr().out
    assert "- Answer Relevance média: 1.00 (em 3 respostas)\n" in summary
    # Two gold questions: the U-Net one hits, the one about a video not in the course cannot.
    assert "(acerto em 2 perguntas com gabarito): @1 0.50, @5 0.50, @10 0.50\n" in summary
    assert sum(1 for q in api.requests if q.body.get("tools")) == 3  # each judged once


@pytest.mark.slow
def test_evaluate_without_a_key_says_the_judge_was_skipped(
    eval_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _evaluate(eval_cache, tmp_path / "report.md", Settings()) == 0
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert report.startswith("**Pergunta 1**: ")  # only this run's questions
    assert report.count("**Answer Relevance (AR)**: não avaliada (resposta extrativa)\n") == 3
    summary = capsys.readouterr().out
    assert "- Respostas extrativas (fallback): 3\n" in summary
    assert "- Juiz: não executado: sem ANTHROPIC_API_KEY" in summary


@pytest.mark.slow
def test_evaluate_reuses_the_index_retrieval_eval_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real embedder, so the cache key is what a real run computes (the embedder's full
    name, the retrieval package's default segmenting)."""
    cache = tmp_path / "cache"
    gold = ["--questions", str(EVAL_COURSE / "questions.jsonl"), "--limit", "2"]
    argv = ["eval", "--course-dir", str(EVAL_COURSE), *gold, "--cache-dir", str(cache), "--quiet"]
    assert retrieval_cli.main(argv, env={}, out=io.StringIO()) == 0
    capsys.readouterr()

    assert _evaluate(cache, tmp_path / "report.md", Settings(), "-k", "5") == 0
    out, err = capsys.readouterr()
    assert "0 parts embedded now; 0 new, 0 changed, 2 unchanged, 0 removed" in err
    assert "perguntas com gabarito): @1 0.50, @5 0.50\n" in out  # at most 5 segments each
    [index_dir] = [d for d in (cache / "eval").iterdir() if d.is_dir()]
    assert {p.name for p in index_dir.iterdir()} == {"lancedb", "eval.sqlite3"}
