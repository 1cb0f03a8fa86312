"""The excerpt of a lecture moment shown in the extractive answer. Pure.

Expected excerpts were checked by hand against the demo course's transcript.
"""

from __future__ import annotations

from bot.courses import DEMO_COURSE_DIR
from bot.excerpts import EXCERPT_CHARS, excerpt_for
from retrieval.models import Hit, Segment, Video
from retrieval.moments import distinct_moments
from retrieval.segments import make_segments
from retrieval.transcripts import parse_transcript

README_QUESTION = "Qual a função da camada de saída na U-Net?"


def unet_windows() -> list[Segment]:
    """The demo U-Net lecture's windows, as ingest cuts them: 00:03, 02:34, 05:08, 07:39."""
    cues = parse_transcript(DEMO_COURSE_DIR / "transcripts" / "aula3.srt")
    return make_segments("demo", Video("aula3", "Aula 3", "https://youtu.be/x"), cues)


def shown_text(text: str, question: str, max_chars: int = EXCERPT_CHARS) -> str:
    excerpt = excerpt_for(text, question, max_chars)
    assert excerpt is not None
    return excerpt.text


def test_the_readme_question_gets_the_sentence_that_answers_it() -> None:
    # Retrieval's first moment: the 05:08 window joined with the 07:39 one. It opens on
    # building the input layer and also holds the closing summary ("…uma camada de saída
    # com convolução um por um e softmax…"); the sentence that says what the output layer
    # is for is the only one holding "função".
    windows = unet_windows()
    moment = distinct_moments([Hit(windows[2], 1.0, 1), Hit(windows[3], 0.9, 2)])[0]
    assert (moment.segment.start_s, moment.segment.end_s) == (308.411, 538.646)

    assert shown_text(moment.segment.text, README_QUESTION) == (
        "… Então a função da camada de saída é produzir, para cada pixel, a distribuição de "
        "probabilidade sobre as classes, e a máscara final sai pegando o argmax em cada pixel. "
        "Se o problema tivesse só duas classes, por exemplo tumor e não tumor, dava para usar "
        "um único canal com sigmoide. …"
    )
    # The quote's first cue starts at 06:48.077; the estimate from its place in the text:
    excerpt = excerpt_for(moment.segment.text, README_QUESTION)
    assert excerpt is not None
    span = moment.segment.end_s - moment.segment.start_s
    assert abs(moment.segment.start_s + excerpt.position * span - 408.077) < 5


def test_a_window_cut_mid_sentence_is_quoted_up_to_its_last_whole_sentence() -> None:
    window = unet_windows()[1]  # 02:34–05:29, ending "…ligando as camadas uma na outra, e no"
    assert window.text.endswith("e ligando as camadas uma na outra, e no")
    question = "Como criar a camada de entrada com a API funcional do Keras?"

    assert shown_text(window.text, question) == (
        "… Depois da concatenação, o bloco do decoder aplica de novo duas convoluções três "
        "por três para misturar as duas fontes de informação. Outra coisa: a U-Net não pode "
        "ser construída como um modelo sequencial no Keras, justamente por causa desses "
        "atalhos. …"
    )
    # Its first sentence begins mid-sentence too when the window starts inside one.
    assert shown_text("camadas rasas. A U-Net tem um encoder. E a gente", "camadas rasas") == (
        "… A U-Net tem um encoder. …"
    )


def test_the_rarest_question_words_choose_the_sentence() -> None:
    text = (
        "A U-Net tem um encoder. E qual é a camada de saída da U-Net? A U-Net usa atalhos. "
        "Então a função da camada de saída é dar uma classe por pixel."
    )
    # Both middle candidates share three question words; "função" is in one sentence
    # only, "U-Net" in three.
    assert shown_text(text, README_QUESTION, max_chars=80) == (
        "… Então a função da camada de saída é dar uma classe por pixel."
    )


def test_the_word_the_question_is_about_outweighs_two_words_of_the_lecture_topic() -> None:
    text = (
        "Hoje vamos falar de árvores de decisão. Uma árvore de decisão divide os dados. "
        "Se a árvore cresce demais ela decora o treino. "
        "A poda, ou pruning, corta os galhos que não melhoram o erro na validação."
    )
    # "árvore" is in three sentences of four and "decisão" in two; "poda" in one.
    assert shown_text(text, "O que é a poda em uma árvore de decisão?", max_chars=90) == (
        "… A poda, ou pruning, corta os galhos que não melhoram o erro na validação."
    )


def test_whole_sentences_grow_around_the_best_one_the_next_first() -> None:
    text = (
        "Hoje vamos falar de regularização. O dropout desativa neurônios aleatoriamente "
        "durante o treino. Isso reduz o overfitting da rede. Na próxima aula veremos batch "
        "normalization."
    )
    question = "O que o dropout faz com os neurônios?"
    assert shown_text(text, question, max_chars=100) == (
        "… O dropout desativa neurônios aleatoriamente durante o treino. "
        "Isso reduz o overfitting da rede. …"
    )
    assert shown_text(text, question, max_chars=70) == (
        "… O dropout desativa neurônios aleatoriamente durante o treino. …"
    )
    assert shown_text(text, question) == text  # it all fits: no cut at all


def test_a_sentence_longer_than_the_room_is_cut_between_words_around_the_match() -> None:
    long_sentence = (
        "Na U-Net o decoder recebe as cópias do encoder pelos atalhos e depois de cada "
        "upsampling concatena essas cópias com o tensor que sobe, e por isso a camada de "
        "saída enxerga os detalhes finos de borda que a descida tinha perdido, o que deixa "
        "as máscaras nítidas."
    )
    text = f"Antes disso. {long_sentence} Depois disso."
    assert shown_text(text, "para que serve a camada de saída", max_chars=100) == (
        "…com o tensor que sobe, e por isso a camada de saída enxerga os detalhes finos de "
        "borda que a descida…"
    )


def test_an_unpunctuated_transcript_is_cut_between_words() -> None:
    asr = (
        "Vou dobrando né 64 128 256 512 tá E aí o bottleneck que que é o bottleneck o "
        "bottleneck É exatamente a final final do Encoder tá então tipicamente o Decoder é "
        "uma versão espelhada do Encoder tá e finalmente Qual é a camada de saída vai ser uma "
        "camada com três saídas né então aqui eu tô usando convolução um por um né então "
        "basicamente eu só tô reduzindo o número de canais da saída para três canais porque "
        "são três categorias tá com ativação soft Max certo e aqui eu tô criando o meu modelo"
    )
    excerpt = shown_text(asr, README_QUESTION, max_chars=150)
    # Centred on the four matching words ("camada de saída … camada com três saídas").
    assert excerpt == (
        "…do Encoder tá e finalmente Qual é a camada de saída vai ser uma camada com três "
        "saídas né então aqui eu tô usando convolução um por um né então…"
    )
    assert f" {excerpt.strip('…')} " in f" {asr} "  # whole words


def test_accents_and_plurals_still_match() -> None:
    text = "Primeiro falamos de árvores. Depois a camada convolucional extrai padrões locais."
    excerpt = shown_text(text, "o que sao camadas convolucionais", max_chars=60)
    assert excerpt == "… Depois a camada convolucional extrai padrões locais."


def test_short_texts_are_shown_whole_and_an_overlong_word_is_cut() -> None:
    assert shown_text("Dropout reduz overfitting.", "dropout") == "Dropout reduz overfitting."
    assert shown_text("a" * 300, "a", max_chars=50) == "a" * 50 + "…"


def test_what_was_shown_is_not_quoted_again() -> None:
    text = "A camada de saída tem três canais. Depois treinamos a rede. Ela usa softmax."
    first = excerpt_for(text, README_QUESTION, max_chars=40)
    assert first is not None and first.words == "A camada de saída tem três canais."

    second = excerpt_for(text, README_QUESTION, max_chars=40, shown=[first.words])
    assert second is not None and second.text == "… Depois treinamos a rede. …"
    assert excerpt_for(text, README_QUESTION, shown=[text]) is None


def test_a_preposition_in_the_question_does_not_match_a_longer_word() -> None:
    # Words are cut to five letters to meet their inflections: "contra" (against) would meet
    # "controla"; as a preposition it says nothing about where the answer is.
    text = (
        "O lambda controla o quanto os pesos ficam pequenos. "
        "O dropout desliga neurônios ao acaso durante o treino."
    )
    shown = shown_text(text, "o dropout ajuda contra o quê?", max_chars=60)
    assert shown.startswith("… O dropout desliga"), shown
