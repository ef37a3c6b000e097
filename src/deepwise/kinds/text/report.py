"""The report of a text run: the documents and their tokens, the most confident mistakes with the words that pushed
them (occlusion), the test documents also seen in training, then the output sections every classifier or regressor
has; and the model card's and guard's words for documents.

Example:
    >>> [s.id for s in text_sections(ctx)][:3]
    ['text-data', 'text-mistakes', 'text-new-documents']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepwise.evaluation import class_probabilities
from deepwise.kinds.text.explain import occlusion_word_importance
from deepwise.render.blocks import Paragraph, Section, Table, fmt, unavailable
from deepwise.render.card import RANDOM_SPLIT_SCOPE, aligned, md, rows_inputs
from deepwise.render.context import ReportContext
from deepwise.render.outputs import output_sections

MISTAKES = 6  # documents shown with their influential words
EXCERPT_CHARS = 240
WORDS_SHOWN = 8
REPORT_WORDS = {"pretrained": 30}  # distinct words occluded per document in the report (others: 150)

NO_IMPORTANCE = (
    "Permutation importance is not measured for text alone: there is one input, the document. The section 'Most "
    "confident mistakes' shows the words that pushed individual predictions (occlusion), and "
    "`run.predictor.explain(texts)` does the same for any document."
)
TEXT_INPUT = """It takes *preprocessed* arrays: {inputs}: token ids (0 = padding, 1 = unknown) of each document's first
  tokens, and for a mixed table the table columns as one float matrix.
- `preprocessing.json`: the tokenizer (vocabulary fitted on the training documents, `max_length`), the text columns
  and the table preprocessing. In Python: `deepwise.kinds.text.state.TextPreprocessor.load("preprocessing.json")
  .transform(texts_or_rows)` gives the arrays.
- The network uses deepwise's text layers (registered with Keras under `deepwise_text`): `import
  deepwise.kinds.text.models` before `keras.saving.load_model("model.keras", safe_mode=True)`."""
SCOPE = RANDOM_SPLIT_SCOPE + (" Documents from another source, period, language or style (other topics, other "
                              "jargon, much shorter or longer texts) can score far lower.")


def _excerpt(text: str) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1] + "…"


def text_data_section(ctx: ReportContext) -> Section:
    """The documents and their tokens: tokenizer, vocabulary, lengths, unknown tokens, cut and repaired ones."""
    prep = ctx.preprocessing or {}
    tok = prep.get("tokenizer") or {}
    splits = ((ctx.metrics.get("text") or {}).get("splits")) or {}
    lengths = tok.get("training_lengths") or {}
    rows = [
        ["source", "class folders of .txt files" if prep.get("source") == "folder"
         else "text column(s) " + ", ".join(map(str, prep.get("text_columns") or []))],
        ["tokens", f"{tok.get('mode', '?')}s" + (", lower-cased" if tok.get("lowercase") else "")],
        ["vocabulary (fitted on training documents)", fmt(len(tok.get("vocabulary") or []))],
        ["tokens per training document (median, 95th pct, max)",
         f"{fmt(lengths.get('median'))}, {fmt(lengths.get('p95'))}, {fmt(lengths.get('max'))}"],
        ["tokens read per document", f"{fmt(tok.get('max_length'))}: {tok.get('max_length_reason', '')}"],
    ]
    for name in ("train", "validation", "test"):
        s = splits.get(name)
        if s:
            rows.append([f"{name}: documents cut / empty / unknown tokens",
                         f"{s['truncated_share']:.1%} / {fmt(s['empty_documents'])} / {s['unknown_token_share']:.1%}"])
    if (prep.get("tabular") or {}).get("feature_names"):
        rows.append(["table columns joined to the text", ", ".join(prep["tabular"]["numeric"]
                                                                  + prep["tabular"]["categorical"])])
    return Section("text-data", "Documents and tokens", [Table(["", "value"], rows), Paragraph(
        "Unknown tokens are words the training documents did not contain (or contained too rarely); the network "
        "sees them as one 'unknown' token. Documents longer than the tokens read keep their beginning.",
        css="note")])


def _test_documents(ctx: ReportContext) -> tuple[Any, Any, np.ndarray, np.ndarray] | str:
    preds, prepared = ctx.test_predictions, ctx.prepared
    if isinstance(preds, str):
        return preds
    if isinstance(prepared, str):
        return prepared
    run, data = prepared
    return run, data, np.asarray(preds.y_true), np.asarray(preds.output)


def _mistakes(ctx: ReportContext, data, y: np.ndarray, output: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Positions of the test documents to show (most confident wrong classes, or largest errors) and the predicted
    class of each (None for numbers)."""
    if ctx.output == "regression":
        errors = np.abs(output.reshape(-1) - y.reshape(-1))
        return np.argsort(-errors, kind="stable")[:MISTAKES], None
    proba = class_probabilities(ctx.output, output)
    predicted = proba.argmax(axis=1)
    wrong = np.flatnonzero(predicted != y.astype(int))
    order = wrong[np.argsort(-proba[wrong, predicted[wrong]], kind="stable")][:MISTAKES]
    return order, predicted


def mistakes_section(ctx: ReportContext) -> Section:
    """The most confident wrong test predictions (numbers: the largest errors), each with its influential words."""
    title = "Most confident mistakes and the words behind them"
    found = _test_documents(ctx)
    if isinstance(found, str):
        return unavailable("text-mistakes", title, found)
    run, data, y, output = found
    order, predicted = _mistakes(ctx, data, y, output)
    if len(order) == 0:
        return Section("text-mistakes", title, [Paragraph(
            f"The network classified all {fmt(len(y))} test documents correctly.", css="note")])
    predictor = run.predictor
    prep = data.prep
    table = prep.table_features(data.frame("test")) if prep.has_table else None
    docs = data.docs["test"]
    names = data.frame("test")["file"].tolist() if "file" in data.problem.frame else None
    classes = [str(c) for c in (prep.classes_ or [])]
    words = REPORT_WORDS.get(prep.model_type, 150)
    rows = []
    for i in order:
        row = table[i] if table is not None else None

        def predict(texts, row=row):
            return predictor.variants_output(texts, row)

        target = None if predicted is None else int(predicted[i])
        pushed = occlusion_word_importance(docs[i], predict, target, top=WORDS_SHOWN, max_words=words,
                                           regression=predicted is None)
        shown = ", ".join(f"{w} ({v:+.2f})" for w, v in pushed if v > 0) or "(no single word)"
        where = names[i] if names else f"test row {data.splits['test'][i]}"
        if predicted is None:
            rows.append([where, fmt(float(y[i])), fmt(float(output.reshape(-1)[i])), _excerpt(docs[i]), shown])
        else:
            p = class_probabilities(ctx.output, output[i:i + 1])[0]
            rows.append([where, classes[int(y[i])], f"{classes[target]} ({p[target]:.2f})", _excerpt(docs[i]), shown])
    pushed_header = "words that pushed the prediction" if predicted is not None else "words that raised the prediction"
    headers = ["document", "true", "predicted", "beginning", pushed_header]
    return Section("text-mistakes", title, [Table(headers, rows), Paragraph(
        "Each word's weight is how much the predicted class's probability (for numbers: the prediction) falls when "
        "every occurrence of the word is removed and the document is predicted again (occlusion). Confident "
        "mistakes are often mislabelled documents, documents about two topics, or a word the network leans on too "
        "much. The same for any document: `run.predictor.explain(texts)`.", css="note")])


def new_documents_section(ctx: ReportContext) -> Section | None:
    """How many test documents also appear in training, and the scores on the others."""
    found = (ctx.metrics.get("text") or {}).get("new_documents")
    if not found or not found.get("also_in_training"):
        return None
    text = (f"{fmt(found['also_in_training'])} of the {fmt(found['test_documents'])} test documents also appear, "
            "word for word, among the training documents, so the test scores count documents the models have seen.")
    if "network" in found:
        baselines = ", ".join(f"{name} {value:.3f}" for name, value in found["baselines"].items())
        text += (f" On the {fmt(found['test_documents'] - found['also_in_training'])} new test documents alone, "
                 f"the network's {found['metric']} is {found['network']:.3f} (baselines: {baselines}).")
    return Section("text-new-documents", "Test documents seen in training", [Paragraph(text)])


def text_sections(ctx: ReportContext) -> list[Section]:
    """The text run's own sections, then the classification (or regression) sections."""
    own = [text_data_section(ctx), mistakes_section(ctx), new_documents_section(ctx)]
    return [s for s in own if s is not None] + output_sections(ctx)


# ------------------------------------------------------------------------------------------- the kind's words
def text_guard_text(guard: dict[str, Any]) -> str:
    return (
        f"The guard flags a document when any of three signs says it is unlike the training documents: its vector in "
        f"the network ({guard.get('space', 'the text vector')}) is far from its {fmt(guard.get('k'))} nearest "
        "training documents' vectors; an unusual share of its words is unknown to the vocabulary; or its length is "
        "unusual (a one-line note among articles, or a whole book). Each threshold is calibrated so that about "
        f"{guard.get('false_alarm_rate_target', 0.0):.1%} of ordinary validation documents are flagged. A flagged "
        "document still gets a prediction (column ood = true, ood_score > 1, and ood_reasons says why), but the test "
        "metrics say nothing about such documents: check it, or collect such documents and retrain."
    )


def text_card_guard_limit(guard: dict[str, Any], rate: float, observed: list[str]) -> str:
    return (
        f"Out-of-distribution behaviour: a guard flags documents unlike the training documents (far from the "
        f"{fmt(guard.get('k'))} nearest training documents in the network's vector space, many unknown words, or an "
        f"unusual length; thresholds calibrated for a {rate:.1%} false-alarm rate; observed on held-out documents: "
        f"{', '.join(observed) or 'not measured'}). A flagged document (`ood` true, `ood_score` > 1, `ood_reasons`) "
        "still gets a prediction, but it is an extrapolation the test metrics say nothing about."
    )


def text_card_source(ctx: ReportContext) -> str:
    prep = ctx.preprocessing or {}
    length = (prep.get("tokenizer") or {}).get("max_length", "?")
    if prep.get("source") == "folder":
        return f"one document (a .txt file, of which the first {length} tokens are read)"
    columns = ", ".join(f"'{c}'" for c in prep.get("text_columns") or [])
    table = (prep.get("tabular") or {})
    others = len(table.get("numeric") or []) + len(table.get("categorical") or [])
    return f"the free text {columns} (first {length} tokens)" + (f" and {others} other column(s)" if others else "") \
        + " of one table row"


def text_card_inputs(ctx: ReportContext) -> list[list[str]]:
    prep = ctx.preprocessing or {}
    tok = prep.get("tokenizer") or {}
    described = (f"free text: {tok.get('mode', '?')}s, a vocabulary of {len(tok.get('vocabulary') or []):,}, "
                 f"the first {tok.get('max_length', '?')} tokens read")
    names = prep.get("text_columns") or ["text"]
    return [[md(name), "text", md(described)] for name in names] + rows_inputs(prep.get("tabular") or {})


def text_card_usage(ctx: ReportContext, columns: str, proba_note: str) -> tuple[list[str], str, str]:
    path = str(ctx.path)
    prep = ctx.preprocessing or {}
    folder = prep.get("source") == "folder"
    new = "new_documents/" if folder else "new_rows.csv"
    commands = [
        (f"deepwise predict {path} {new} -o predictions.csv",
         ("file, " if folder else "") + f"prediction, {proba_note}ood, ood_score, ood_reasons"),
        (f"deepwise evaluate {path} {'labelled_documents/' if folder else 'labelled.csv'}",
         "re-measure on " + ("a folder of class sub-folders" if folder else "new labelled rows")),
        (f"deepwise serve {path}", 'HTTP: POST /predict {"texts": [...]}' if not (prep.get("tabular") or {}).get(
            "feature_names") else 'HTTP: POST /predict {"records": [...]}'),
        (f"deepwise export {path} --format keras", "the network and preprocessing.json"),
    ]
    example = '["The striker scored twice in the final."]' if folder or len(prep.get("text_columns") or []) else "..."
    python = (
        f'import deepwise\n\nrun = deepwise.load_run("{path}")\n'
        f"predictions = run.predict({example})  # or a folder of .txt files, a CSV, a DataFrame\n"
        f"words = run.predictor.explain({example})  # the words that pushed each prediction\n"
        "print(predictions.head(), words['influential_words'][0])"
    )
    note = ("Documents are read as UTF-8 (bytes that are not are replaced, and counted); the network reads their "
            f"first {(prep.get('tokenizer') or {}).get('max_length', '?')} tokens; words never seen in training are "
            "one 'unknown' token, and a document with many of them is flagged."
            + (f" Rows need the columns {columns}." if not folder else ""))
    return aligned(commands), python, note
