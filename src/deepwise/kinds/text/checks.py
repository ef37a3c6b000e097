"""The data checks of a text run (step 3), as :class:`~deepwise.inspection.Finding` s: what the documents are, how
long, how much the vocabulary covers, empty and repaired documents, duplicates and labels that disagree on them,
identical documents on two sides of the split (leakage), the class balance, and, for a mixed table, the table checks
of its other columns.

Example:
    >>> findings = text_findings(data)     # data: a prepared TextData
    >>> [f.code for f in findings][:3]
    ['text_overview', 'text_lengths', 'text_vocabulary']
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from deepwise.inspection import Finding, Findings, inspect
from deepwise.inspection.checks import class_balance

TRUNCATED_WARNING = 0.2  # more training documents than this cut at max_length: a warning
UNKNOWN_WARNING = 0.2  # more validation tokens than this unknown: a warning
FEW_DOCUMENTS = 1_000  # fewer training documents than this: TF-IDF is usually as good


def _share(part: int | float, whole: int | float) -> str:
    return f"{part / whole:.1%}" if whole else "0%"


def overview(data) -> Finding:
    prep, sizes = data.prep, data.split_sizes()
    chars = np.fromiter((len(d) for d in data.problem.docs), np.int64, count=len(data.problem.docs))
    where = (f"{len(chars):,} documents from the class folders of {data.config.data.path}" if prep.source == "folder"
             else f"{len(chars):,} rows; text column(s) {', '.join(map(repr, prep.text_columns))}"
             + (f" and {len(prep.table_columns)} table column(s)" if prep.has_table else ""))
    what = f"{data.n_classes} classes" if data.task.is_classification else "a number to predict (regression)"
    message = (f"{where}; {what}. Characters per document: median {np.median(chars):,.0f}, 95th percentile "
               f"{np.percentile(chars, 95):,.0f}, longest {chars.max():,}. Split: {sizes['train']:,} train, "
               f"{sizes['validation']:,} validation, {sizes['test']:,} test.")
    evidence = {"documents": len(chars), "median_chars": float(np.median(chars)), "max_chars": int(chars.max()),
                "split": sizes}
    return Finding("text_overview", "info", message, "", list(prep.text_columns), evidence)


def lengths(data) -> Finding:
    tok = data.prep.tokenizer
    train = data.encoded["train"].summary()
    severity = "warning" if train["truncated_share"] > TRUNCATED_WARNING else "info"
    message = (f"Tokens per training document: median {tok.training_lengths['median']:,.0f}, 95th percentile "
               f"{tok.training_lengths['p95']:,.0f}, longest {tok.training_lengths['max']:,.0f}. The network reads "
               f"the first {tok.max_length} ({tok.max_length_reason}); {train['truncated_share']:.1%} of the "
               "training documents are longer and keep their beginning.")
    action = ("Raise text.max_length if the end of long documents matters (the cost grows with it), or split them."
              if severity == "warning" else "")
    return Finding("text_lengths", severity, message, action, [], {**tok.training_lengths,
                                                                   "max_length": tok.max_length, **train})


def vocabulary(data) -> Finding:
    tok = data.prep.tokenizer
    validation = data.encoded["validation"].summary()
    share = validation["unknown_token_share"]
    severity = "warning" if share > UNKNOWN_WARNING else "info"
    message = (f"Vocabulary: {tok.vocab_size:,} {tok.mode} tokens kept from the training documents (at most "
               f"{tok.max_tokens:,}, each seen at least {tok.min_count} times), padding and 'unknown' included. "
               f"{share:.1%} of the validation documents' tokens are unknown to it.")
    action = ("Many unknown tokens: use text.tokenizer: subword (pieces of words) or char, lower text.min_count, or "
              "collect more documents." if severity == "warning" else "")
    return Finding("text_vocabulary", severity, message, action, [], {"vocabulary": tok.vocab_size, **validation})


def cleaning(data) -> list[Finding]:
    """Empty documents, bytes that were not UTF-8, documents cut at text.max_document_bytes, files left out."""
    found: list[Finding] = []
    report = data.prep.cleaning
    empty = int(report.get("empty_documents", 0))
    if empty:
        found.append(Finding(
            "text_empty", "warning",
            f"{empty:,} document(s) are empty or whitespace only ({_share(empty, data.n_rows)}); they are kept, and "
            "the network can only guess their class from nothing (the majority).",
            "Drop or fill those rows if they are mistakes.", list(data.prep.text_columns), {"empty_documents": empty}))
    folder = report.get("folder") or {}
    repaired = []
    if folder.get("replaced_files"):
        repaired.append(f"{sum(folder['replaced_files'].values()):,} byte(s) that are not UTF-8 were replaced by "
                        f"U+FFFD in {len(folder['replaced_files'])} file(s) (e.g. "
                        f"{', '.join(list(folder['replaced_files'])[:3])})")
    if folder.get("truncated_files"):
        repaired.append(f"{len(folder['truncated_files'])} file(s) are larger than {folder['max_document_bytes']:,} "
                        f"bytes and were read up to that size (e.g. {', '.join(folder['truncated_files'][:3])})")
    if folder.get("empty_files"):
        repaired.append(f"{len(folder['empty_files'])} empty file(s) were left out (e.g. "
                        f"{', '.join(folder['empty_files'][:3])})")
    for column, info in (report.get("columns") or {}).items():
        if info.get("cut_to_max_chars"):
            repaired.append(f"{info['cut_to_max_chars']:,} value(s) of '{column}' are longer than "
                            f"{info['max_chars']:,} characters and were cut")
    if repaired:
        found.append(Finding("text_repaired", "warning", "; ".join(repaired) + ".",
                             "Check those files or values: convert them to UTF-8, or split very long documents.",
                             [], {"folder": folder, "columns": report.get("columns")}))
    return found


def duplicates(data) -> list[Finding]:
    """Identical documents: how many, whether their labels disagree, and whether the split puts them on two sides."""
    docs = [d.strip() for d in data.problem.docs]
    labels = data.problem.frame[data.config.problem.target].astype(str).tolist()
    counts = Counter(docs)
    repeated = {d for d, n in counts.items() if n > 1 and d}
    found: list[Finding] = []
    if repeated:
        label_sets: dict[str, set] = {}
        for d, label in zip(docs, labels, strict=True):
            if d in repeated:
                label_sets.setdefault(d, set()).add(label)
        conflicting = sum(1 for s in label_sets.values() if len(s) > 1)
        extra = sum(counts[d] - 1 for d in repeated)
        severity = "warning" if conflicting else "info"
        found.append(Finding(
            "text_duplicates", severity,
            f"{extra:,} document(s) repeat another word for word ({len(repeated):,} distinct texts occur more than "
            f"once)" + (f"; {conflicting:,} of them carry different labels" if conflicting else "") + ".",
            "Remove the copies (and fix the labels that disagree)." if conflicting else "Remove the copies.",
            [], {"repeated_documents": extra, "distinct_repeated": len(repeated), "conflicting_labels": conflicting}))
    train = {docs[i] for i in data.splits["train"]}
    crossing = {name: int(sum(docs[i] in train for i in data.splits[name])) for name in ("validation", "test")}
    if crossing["test"] or crossing["validation"]:
        n_test = len(data.splits["test"])
        found.append(Finding(
            "text_leakage", "warning",
            f"{crossing['test']:,} of the {n_test:,} test documents ({_share(crossing['test'], n_test)}) and "
            f"{crossing['validation']:,} validation documents also appear, word for word, among the training "
            "documents: the test scores count documents the models have seen. deepwise also scores the test "
            "documents that are new (metrics.json: text.new_documents).",
            "Remove the duplicates before splitting, so that every copy of a document lands in one split.",
            [], crossing))
    return found


def size(data) -> list[Finding]:
    n = len(data.splits["train"])
    if n >= FEW_DOCUMENTS:
        return []
    return [Finding(
        "text_size", "warning",
        f"{n:,} training documents: with this few, a TF-IDF linear model is usually as good as a network (the "
        "verdict measures it), and the network's vocabulary stays small.",
        "Collect more labelled documents, or try model.type: pretrained (a sentence encoder trained on far more "
        "text).", [], {"train_documents": n})]


def table_findings(data) -> Findings:
    """The table checks of a mixed table's other columns (the text columns left out)."""
    cfg = data.config
    frame = data.problem.frame[[*data.prep.table_columns, cfg.problem.target]]
    return inspect(frame, target=cfg.problem.target, task=data.task.name, hidden_units=cfg.model.hidden_units,
                   seed=cfg.seed)


def text_findings(data) -> Findings:
    """Every check of a text run's data (see the module doc)."""
    findings = Findings([overview(data), lengths(data), vocabulary(data), *cleaning(data), *duplicates(data),
                         *size(data)])
    if data.prep.has_table:
        findings += [f for f in table_findings(data) if f.code not in ("duplicates",)]
    elif data.task.is_classification:
        target = data.problem.frame[data.config.problem.target]
        counts: Any = target.astype(str).value_counts()
        findings += class_balance(pd.Series(counts.to_numpy(), index=counts.index), data.config.problem.target)
    return findings
