"""Split text longer than the model's input window at sentence boundaries.

all-MiniLM-L6-v2 reads 256 word pieces; academic English runs at about 1.3-1.5 pieces a word, so a
limit of 150 words keeps every chunk inside the window without loading a tokenizer in the readers.
"""

from __future__ import annotations

import re

MAX_WORDS = 150
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"'(\[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text) if s.strip()]


def split_long(text: str, *, max_words: int = MAX_WORDS) -> list[str]:
    """Return `text` as chunks of at most `max_words` words, cut between sentences.

    A single sentence longer than the limit is cut between words, so no text is ever dropped.
    """
    if len(text.split()) <= max_words:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    count = 0
    for sentence in split_sentences(text):
        words = sentence.split()
        while len(words) > max_words:
            if current:
                chunks.append(" ".join(current))
                current, count = [], 0
            chunks.append(" ".join(words[:max_words]))
            words = words[max_words:]
        if count + len(words) > max_words and current:
            chunks.append(" ".join(current))
            current, count = [], 0
        current.append(" ".join(words))
        count += len(words)
    if current:
        chunks.append(" ".join(current))
    return chunks
