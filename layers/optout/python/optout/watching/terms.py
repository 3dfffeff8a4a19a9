"""The terms that make a policy change matter to people who must opt out, and how a sentence is
searched for them. Organisers can edit the list; `DEFAULT_TERMS` is where it starts.

How a term matches a sentence (accents and case aside: "entrainement" finds "entraînement"):
- A term in Chinese (any CJK character) is found anywhere in the sentence: Chinese writes no
  spaces between words.
- A term in capitals of at most four letters is an acronym ("AI", "KI", "IA", "SI", "ML"): found
  as a whole word, in capitals only, so that "AI" finds "AI-powered", "l'IA" and "AI模型" but
  not "said", nor the Italian "ai" ("to the") or the Spanish and Italian "si".
- Any other term is found as whole words, case-insensitively, each word of four letters or more
  also as the start of a longer word: "train" finds "training" and "trained", "model" finds
  "models", "legitimate interest" finds "legitimate interests"; "opt out" finds "opt-out"
  (words may be joined by spaces or hyphens). Shorter words must match whole ("opt").
  Inflections that do not start with the term are listed as terms of their own ("entraîné"
  beside "entraîner", "Modelle" is found by "Modell").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from optout.core.errors import InvalidInput

MAX_TERMS = 200
MAX_TERM_LENGTH = 60

# "object" alone would find "objective" and "objects"; what matters is the right to object.
DEFAULT_TERMS: tuple[str, ...] = (
    # en (the list)
    "AI",
    "artificial intelligence",
    "machine learning",
    "train",
    "model",
    "default",
    "opt out",
    "opting out",
    "object to",
    "objection",
    "right to object",
    "legitimate interest",
    "generative",
    # de
    "KI",
    "künstliche Intelligenz",
    "künstlichen Intelligenz",
    "maschinelles Lernen",
    "maschinellen Lernens",
    "trainieren",
    "trainiert",
    "Training",
    "Modell",
    "Sprachmodell",
    "standardmäßig",
    "voreingestellt",
    "Voreinstellung",
    "widersprechen",
    "Widerspruch",
    "berechtigtes Interesse",
    "berechtigte Interessen",
    "berechtigten Interessen",
    "deaktivieren",
    # fr, fr-CA
    "IA",
    "intelligence artificielle",
    "apprentissage automatique",
    "apprentissage machine",
    "entraîner",
    "entraîne",
    "entraîné",
    "entraînement",
    "modèle",
    "par défaut",
    "désactiver",
    "opposer",
    "opposition",
    "intérêt légitime",
    "intérêts légitimes",
    "se retirer",
    # es
    "inteligencia artificial",
    "aprendizaje automático",
    "entrenar",
    "entrenamiento",
    "entrenado",
    "entrenada",
    "modelo",
    "por defecto",
    "predeterminado",
    "predeterminada",
    "oponerse",
    "oposición",
    "interés legítimo",
    "intereses legítimos",
    "exclusión voluntaria",
    "desactivar",
    # it
    "intelligenza artificiale",
    "apprendimento automatico",
    "addestrare",
    "addestramento",
    "addestrato",
    "addestrati",
    "addestrata",
    "modello",
    "modelli",
    "predefinito",
    "predefinita",
    "impostazione predefinita",
    "opporsi",
    "opposizione",
    "legittimo interesse",
    "legittimi interessi",
    "disattivare",
    # nl
    "kunstmatige intelligentie",
    "trainen",
    "getraind",
    "standaard",
    "bezwaar",
    "gerechtvaardigd belang",
    "gerechtvaardigde belangen",
    "afmelden",
    "uitschakelen",
    # pl
    "SI",
    "sztuczna inteligencja",
    "sztucznej inteligencji",
    "sztuczną inteligencję",
    "uczenie maszynowe",
    "uczenia maszynowego",
    "trenowanie",
    "trenowania",
    "trenować",
    "trenowane",
    "domyślnie",
    "domyślne",
    "domyślny",
    "sprzeciw",
    "prawnie uzasadniony interes",
    "prawnie uzasadnionego interesu",
    "prawnie uzasadnionych interesów",
    "rezygnacja",
    "rezygnacji",
    "wyłączyć",
    # pt
    "inteligência artificial",
    "aprendizado de máquina",
    "aprendizagem automática",
    "treinar",
    "treinamento",
    "treino",
    "treinado",
    "treinada",
    "por padrão",
    "predefinição",
    "opor-se",
    "interesse legítimo",
    "interesses legítimos",
    "desativar",
    # sv
    "artificiell intelligens",
    "maskininlärning",
    "träna",
    "träning",
    "tränad",
    "modell",
    "som standard",
    "standardinställning",
    "invända",
    "invändning",
    "berättigat intresse",
    "berättigade intressen",
    "avregistrera",
    "stänga av",
    # zh-HK (traditional Chinese; Hong Kong writes 人工智能 as often as 人工智慧)
    "人工智能",
    "人工智慧",
    "機器學習",
    "訓練",
    "模型",
    "生成式",
    "預設",
    "默認",
    "選擇退出",
    "停用",
    "反對",
    "正當權益",
    "合法權益",
    "合法利益",
)

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
# A letter or digit of an alphabetic script: what may not touch a whole word (a CJK character
# may: "AI模型" holds the word "AI").
_WORDISH = r"[^\W_\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]"
_JOIN = r"[\s\-\u2010\u2011]+"
_ACRONYM = re.compile(r"[A-Z]{1,4}")
_PREFIX_FROM = 4


def fold(text: str) -> str:
    """`text` without accents and, compatibility forms aside, as written (case kept)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(char for char in decomposed if not unicodedata.combining(char))
    )


def _pattern(term: str) -> tuple[re.Pattern[str], bool]:
    """The pattern finding `term`, and whether it is matched against the sentence with its case
    kept (acronyms) rather than casefolded."""
    if _CJK.search(term):
        return re.compile(re.escape(fold(term).casefold())), False
    if _ACRONYM.fullmatch(term):
        return re.compile(rf"(?<!{_WORDISH}){term}(?!{_WORDISH})"), True
    words = [fold(word).casefold() for word in re.split(_JOIN, term) if word]
    parts = [
        re.escape(word) + (r"\w*" if len(word) >= _PREFIX_FROM else rf"(?!{_WORDISH})")
        for word in words
    ]
    return re.compile(rf"(?<!{_WORDISH})" + _JOIN.join(parts)), False


def _problems(raw: object) -> tuple[list[str], list[str]]:
    if not isinstance(raw, list | tuple):
        return [], ["must be a list of words or phrases"]
    terms: list[str] = []
    problems: list[str] = []
    for position, item in enumerate(raw, start=1):
        if not isinstance(item, str):
            problems.append(f"term {position} is not text")
            continue
        term = " ".join(item.split())
        if not term:
            problems.append(f"term {position} is empty")
        elif len(term) > MAX_TERM_LENGTH:
            problems.append(f"term {position} is longer than {MAX_TERM_LENGTH} characters")
        elif any(unicodedata.category(char).startswith("C") for char in term):
            problems.append(f"term {position} holds control characters")
        elif not any(char.isalpha() for char in term):
            problems.append(f"term {position} has no letter")
        else:
            terms.append(term)
    if not raw:
        problems.append("give at least one term")
    if len(raw) > MAX_TERMS:
        problems.append(f"at most {MAX_TERMS} terms, not {len(raw)}")
    return terms, problems


@dataclass(frozen=True)
class Terms:
    """The terms watched for, in the organisers' order, each once (whatever its case)."""

    words: tuple[str, ...]
    _patterns: tuple[tuple[str, re.Pattern[str], bool], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        unique: dict[str, str] = {}
        for word in self.words:
            term = " ".join(word.split())
            if term:
                unique.setdefault(fold(term).casefold(), term)
        object.__setattr__(self, "words", tuple(unique.values()))
        object.__setattr__(
            self, "_patterns", tuple((term, *_pattern(term)) for term in unique.values())
        )

    @classmethod
    def of(cls, words: Iterable[str]) -> Terms:
        """Terms from a list the code trusts (`DEFAULT_TERMS`, a list already validated)."""
        return cls(tuple(words))

    @classmethod
    def parse(cls, raw: object) -> Terms:
        """Terms from a list an organiser sent: at least one, at most `MAX_TERMS`, each text of
        at most `MAX_TERM_LENGTH` characters with a letter in it. Every problem is named in
        one `InvalidInput` on the field "terms" (a 400)."""
        terms, problems = _problems(raw)
        if problems:
            raise InvalidInput({"terms": "; ".join(problems)})
        return cls.of(terms)

    def matched(self, sentence: str) -> tuple[str, ...]:
        """The terms found in `sentence`, in the list's order (see the module's rules). Where
        several terms find the same word, the one that finds most of it, then the longest
        term, counts: "trained models" gives ("train", "model"), "Trainingsdaten" gives
        "Training" when both "train" and "Training" are listed, never both."""
        kept = fold(sentence)
        folded = kept.casefold()
        best: dict[tuple[bool, int], tuple[int, int, int]] = {}
        for index, (term, pattern, case_kept) in enumerate(self._patterns):
            for found in pattern.finditer(kept if case_kept else folded):
                rank = (found.end() - found.start(), len(term), -index)
                where = (case_kept, found.start())
                best[where] = max(best.get(where, rank), rank)
        winners = {-index for _, _, index in best.values()}
        return tuple(term for index, (term, _, _) in enumerate(self._patterns) if index in winners)

    def spans(self, sentence: str) -> list[tuple[int, int]]:
        """Where the terms are found in `sentence` as written (start, end), in order, those
        that overlap joined: what a page marks. Matched as `matched` matches, character by
        character folded, so that each place maps back to the characters it came from."""
        kept_map: list[int] = []
        folded_map: list[int] = []
        kept_parts: list[str] = []
        folded_parts: list[str] = []
        for position, char in enumerate(sentence):
            kept = fold(char)
            kept_parts.append(kept)
            kept_map += [position] * len(kept)
            folded = kept.casefold()
            folded_parts.append(folded)
            folded_map += [position] * len(folded)
        texts = {True: ("".join(kept_parts), kept_map), False: ("".join(folded_parts), folded_map)}
        found = []
        for _term, pattern, case_kept in self._patterns:
            text, where = texts[case_kept]
            for match in pattern.finditer(text):
                if match.end() > match.start():
                    end = where[match.end() - 1] + 1
                    while end < len(sentence) and unicodedata.combining(sentence[end]):
                        end += 1  # an accent written apart stays with its letter
                    found.append((where[match.start()], end))
        joined: list[tuple[int, int]] = []
        for start, end in sorted(found):
            if joined and start <= joined[-1][1]:
                joined[-1] = (joined[-1][0], max(end, joined[-1][1]))
            else:
                joined.append((start, end))
        return joined


DEFAULT = Terms.of(DEFAULT_TERMS)
