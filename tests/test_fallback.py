"""The extractive fallback: what a student gets when Claude is not there. Pure."""

from __future__ import annotations

from bot.citations import citation_for
from bot.fallback import extractive_draft, is_english
from bot.models import Hit, Question, Segment

# A real retrieved segment from the user's report (ASR text: no punctuation at all).
UNET_ASR = (
    "Vou dobrando né 64 128 256 512 tá E aí o bottleneck que que é o bottleneck o bottleneck "
    "É exatamente a final final do Encoder é é versão codificada da entrada tá E aí se aplica "
    "um outro bloco de convolução com 124 canais então em tese Esse cara tem que ter dimensão "
    "16 por 16 por 1000 24 Ok chegou a parte de final do U agora vou começar a subir a outra "
    "perninha do u Como é que eu faço isso bom a minha rotina upsample and residual Block ela "
    "faz duas coisas tá cada vez aumentando a resolução espacial e diminuindo o número de "
    "filtros tá então tipicamente o Decoder é uma versão espelhada do Encoder tá e finalmente "
    "Qual é a camada de saída vai ser uma camada com três saídas né então aqui eu tô usando "
    "convolução um por um né então basicamente eu só tô reduzindo o número de canais da saída "
    "para três canais porque são três categorias tá com ativação soft Max certo e aqui eu tô "
    "criando o meu modelo né basicamente o que que eu fiz aqui"
)
PUNCTUATED = (
    "Hoje vamos falar de regularização. O dropout desativa neurônios aleatoriamente durante o "
    "treino. Isso reduz o overfitting da rede. Na próxima aula veremos batch normalization."
)


def make_hit(rank: int, segment_id: str, start_s: float, text: str) -> Hit:
    segment = Segment(
        id=segment_id,
        course_id="ml",
        video_id="vid" + segment_id,
        title=f"Aula {rank}",
        url=f"https://youtu.be/vid{segment_id}",
        start_s=start_s,
        end_s=start_s + 167,
        text=text,
    )
    return Hit(segment=segment, score=1 / rank, rank=rank)


QUESTION = Question(course_id="ml", text="Qual a função da camada de saída na rede U-Net?")


def test_the_draft_lists_labels_links_and_excerpts_in_portuguese() -> None:
    hits = [
        make_hit(1, "1", 721, UNET_ASR),
        make_hit(2, "2", 95, PUNCTUATED),
    ]
    draft = extractive_draft(QUESTION, hits, "answer model failed: 529", "portuguese")

    assert draft.fallback and not draft.abstained
    assert draft.error == "answer model failed: 529"
    assert draft.text.startswith("⚠️ Resposta automática, não gerada por IA")
    assert "1. Aula 1 · 12:01–14:48 — https://youtu.be/vid1?t=721" in draft.text
    assert "2. Aula 2 · 01:35–04:22 — https://youtu.be/vid2?t=95" in draft.text
    assert "camada de saída" in draft.text
    assert draft.citations == tuple(citation_for(hit.segment) for hit in hits)


def test_english_courses_get_english_labels() -> None:
    hits = [make_hit(1, "1", 10, "Layers are stacked. The output layer uses softmax.")]
    draft = extractive_draft(
        Question(course_id="ps", text="output layer?"), hits, "no key", "English"
    )
    assert draft.text.startswith("⚠️ Automatic answer, not written by AI")
    assert "The output layer uses softmax." in draft.text


def test_at_most_max_segments_distinct_segments_in_rank_order() -> None:
    hits = [
        make_hit(3, "c", 30, "terceiro"),
        make_hit(1, "a", 10, "primeiro"),
        make_hit(2, "a", 10, "primeiro de novo"),
        make_hit(4, "d", 40, "quarto"),
        make_hit(5, "e", 50, "quinto"),
    ]
    draft = extractive_draft(QUESTION, hits, "no key", "pt", max_segments=2)
    assert [c.segment_id for c in draft.citations] == ["a", "c"]


def excerpts_of(text: str) -> list[str]:
    return [line.split("“", 1)[1][:-1] for line in text.splitlines() if line.endswith("”")]


def test_overlapping_windows_never_show_the_same_excerpt_twice() -> None:
    shared = "A camada de saída tem três canais, um por categoria."
    hits = [
        make_hit(1, "a", 0, f"Primeiro o encoder reduz a imagem. {shared}"),
        make_hit(2, "b", 150, f"{shared} Depois treinamos a rede com a camada de saída nova."),
        make_hit(3, "c", 300, shared),
    ]
    draft = extractive_draft(QUESTION, hits, "no key", "pt")

    assert excerpts_of(draft.text) == [
        f"Primeiro o encoder reduz a imagem. {shared}",
        "… Depois treinamos a rede com a camada de saída nova.",
    ]  # the third moment says nothing new: it is listed with its link, unquoted
    assert "3. Aula 3 · 05:00–07:47" in draft.text and len(draft.citations) == 3
    # The second quote starts after 53 of its moment's 104 characters: 150 + 53/104 × 167 s.
    assert "02:30–05:17 — https://youtu.be/vidb?t=150\n   ≈ 03:55 “… Depois" in draft.text
    assert "\n   “Primeiro o encoder" in draft.text  # said where the link starts


def test_overlapping_unpunctuated_windows_do_not_quote_the_same_run_of_words() -> None:
    words = UNET_ASR.split()
    hits = [
        make_hit(1, "a", 0, " ".join(words[:170])),
        make_hit(2, "b", 60, " ".join(words[100:])),  # both hold "a camada de saída"
    ]
    draft = extractive_draft(QUESTION, hits, "no key", "pt")

    assert excerpts_of(draft.text) == [
        "…o número de filtros tá então tipicamente o Decoder é uma versão espelhada do Encoder "
        "tá e finalmente Qual é a camada de saída vai ser uma camada com três saídas né então "
        "aqui eu tô usando convolução um por um né então basicamente eu só tô reduzindo o "
        "número de canais da saída para três canais porque…",
        # Six words in common at most: the second goes on where the first stopped.
        "…canais da saída para três canais porque são três categorias tá com ativação soft "
        "Max certo e aqui eu tô criando o meu modelo né basicamente o que que eu fiz aqui",
    ]


def test_english_sentences_around_the_answer() -> None:
    text = (
        "Last week we saw how a perceptron draws one straight line between two classes, and "
        "why a network needs nonlinear activations to draw curves instead. So far we stacked "
        "dense layers. Now, what does the output layer do? It turns the last features into "
        "one score per class, e.g. ten scores for digits. A softmax makes them probabilities. "
        "Next week we move on to convolutions, which see images as grids of pixels."
    )
    hits = [make_hit(1, "1", 10, text)]
    question = Question(course_id="ps", text="What is the output layer for?")
    draft = extractive_draft(question, hits, "no key", "English")
    # The core is the only sentence saying "output"; the next sentence is added first, then
    # the one before, in turn; the first sentence no longer fits.
    assert excerpts_of(draft.text) == [
        "… So far we stacked dense layers. Now, what does the output layer do? It turns the "
        "last features into one score per class, e.g. ten scores for digits. A softmax makes "
        "them probabilities. Next week we move on to convolutions, which see images as grids "
        "of pixels."
    ]


def test_no_hits_is_a_plain_abstention() -> None:
    draft = extractive_draft(QUESTION, [], "no key", "portuguese")

    assert draft.abstained and draft.fallback and draft.citations == ()
    assert "não encontrei nas aulas" in draft.text
    assert draft.error == "no key"


def test_language_names() -> None:
    assert is_english("english") and is_english("en-US") and is_english("Inglês")
    assert not is_english("portuguese") and not is_english("pt-BR") and not is_english("")
