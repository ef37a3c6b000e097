"""Autoregressive decoding: greedy and beam search, batched, with one compiled JAX step.

The network writes the translation one token at a time, each step reading its own previous output (at evaluation
and prediction; training reads the true previous token instead). A step is one jitted JAX function of the weights
(passed as arguments through Keras' ``stateless_call``, so retraining never leaves a stale compiled copy); Python
loops over the output positions and stops as soon as every sentence has written its end token. Sentences go
through in chunks of up to 1,024 and a shorter last chunk is padded to a power of two, so a model compiles a few
shapes at most.

Greedy takes the most probable token at each step. Beam search keeps the ``beam`` most probable partial
translations of each sentence and returns the best finished one, its log-probability divided by
``((5 + length) / 6) ** length_penalty`` (Wu et al. 2016) so that short outputs are not favoured just for having
fewer probabilities multiplied.

Example:
    >>> ids = greedy_decode(s2s, source_ids)               # [n, target_len] token ids, END then padding
    >>> ids = beam_decode(s2s, source_ids, beam=4)
    >>> maps = attention_maps(s2s, source_ids[:3])          # [output steps, source positions] per sentence
    >>> texts = translate(s2s, tokenizer, ["Tuesday, March 5, 2024"])  # text in, text out
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepwise.backend import keras_module
from deepwise.kinds.translation.tokenize import END, PAD, START

CHUNK = 1024
SMALLEST = 8


def _values(model) -> tuple[list, list]:
    return [v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables]


class _Steps:
    """The pure functions decoding needs, for one :class:`~deepwise.kinds.translation.models.Seq2Seq`.

    ``init(params, source) -> (static, dynamic)``; ``step(params, static, dynamic, prev, t) -> (logits, dynamic,
    attention)``. ``static`` (encoder outputs) is the same for every beam of a sentence; ``dynamic`` (the GRU's
    state, or the Transformer's cached keys and values) is what beam search reorders.
    """

    def __init__(self, s2s) -> None:
        import jax.numpy as jnp

        keras_module()
        self.s2s = s2s
        encoder, step = s2s.encoder, s2s.decoder_step
        transformer = s2s.config.architecture == "transformer"

        def init(params, source):
            outputs, _ = encoder.stateless_call(*params[0], source)
            if transformer:
                mask, *projected = outputs
                c = s2s.config
                shape = (source.shape[0], s2s.target_len, c.heads, c.units // c.heads)
                caches = tuple(jnp.zeros(shape, projected[0].dtype) for _ in range(len(projected)))
                return (mask, tuple(projected)), caches
            values, keys, state, mask = outputs
            return (values, keys, mask), state

        def one_step(params, static, dynamic, prev, t):
            if transformer:
                mask, projected = static
                inputs = [prev[:, None], jnp.full((prev.shape[0], 1), t, dtype=jnp.int32), mask]
                for i in range(0, len(projected), 2):  # per block: cross keys, cross values, self keys, self values
                    inputs += [projected[i], projected[i + 1], dynamic[i], dynamic[i + 1]]
                (logits, scores, *caches), _ = step.stateless_call(*params[1], inputs)
                return logits, tuple(caches), scores
            values, keys, mask = static
            (logits, state, scores), _ = step.stateless_call(*params[1], [prev[:, None], dynamic, values, keys, mask])
            return logits, state, scores

        self.init = init
        self.step = one_step

    def params(self) -> tuple:
        return (_values(self.s2s.encoder), _values(self.s2s.decoder_step))


_CACHE: dict[int, dict[str, Any]] = {}
CACHED_NETWORKS = 4


def _compiled(s2s) -> dict[str, Any]:
    """The jitted functions of ``s2s`` (made once per network object)."""
    key = id(s2s)
    if key in _CACHE and _CACHE[key]["s2s"] is s2s:
        return _CACHE[key]
    import jax
    import jax.numpy as jnp

    steps = _Steps(s2s)

    def greedy_step(params, static, dynamic, prev, t, finished):
        logits, dynamic, scores = steps.step(params, static, dynamic, prev, t)
        token = jnp.where(finished, PAD, jnp.argmax(logits, axis=-1).astype(jnp.int32))
        return dynamic, token, finished | (token == END), scores

    def beam_step(params, static, dynamic, prev, t, scores, finished, history, beam: int):
        logits, dynamic, attn = steps.step(params, static, dynamic, prev, t)
        logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
        vocab = logp.shape[-1]
        stay = jnp.full((vocab,), -jnp.inf).at[PAD].set(0.0)  # a finished beam only extends with padding, for free
        logp = jnp.where(finished[:, None], stay[None, :], logp)
        total = (scores[:, None] + logp).reshape(-1, beam * vocab)
        best, flat = jax.lax.top_k(total, beam)
        origin = flat // vocab + (jnp.arange(total.shape[0]) * beam)[:, None]
        origin, token = origin.reshape(-1), (flat % vocab).reshape(-1).astype(jnp.int32)
        dynamic = jax.tree_util.tree_map(lambda a: a[origin], dynamic)
        history = history[origin].at[:, t].set(token)
        finished = finished[origin] | (token == END)
        return dynamic, token, best.reshape(-1), finished, history, attn[origin]

    entry = {
        "s2s": s2s,
        "params": steps.params,
        "init": jax.jit(steps.init),
        "greedy": jax.jit(greedy_step),
        "beam": jax.jit(beam_step, static_argnames="beam"),
    }
    if len(_CACHE) >= CACHED_NETWORKS:  # the oldest network's compiled steps go
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[key] = entry
    return entry


def _chunks(n: int, chunk: int):
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        padded = chunk if stop - start == chunk else max(SMALLEST, 1 << (stop - start - 1).bit_length())
        yield start, stop, padded


def _pad_rows(x: np.ndarray, rows: int) -> np.ndarray:
    return np.concatenate([x, np.repeat(x[-1:], rows - len(x), axis=0)]) if len(x) < rows else x


def greedy_decode(
    s2s, source_ids: np.ndarray, max_len: int | None = None, return_attention: bool = False, chunk: int = CHUNK
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """The most probable next token at each step: ids ``[n, max_len]`` (END, then padding, after each sentence).

    ``max_len``: output steps at most (default: the decoder's length). With ``return_attention``, also the
    attention weights ``[n, max_len, source_len]`` (zeros after a sentence ends).

    Example:
        >>> ids = greedy_decode(s2s, tokenizer.source.encode(["Tuesday, March 5, 2024"])[0])
    """
    fn = _compiled(s2s)
    params = fn["params"]()
    max_len = min(max_len or s2s.target_len, s2s.target_len)
    source_ids = np.asarray(source_ids, dtype=np.int32)
    out = np.zeros((len(source_ids), max_len), dtype=np.int32)
    attention = np.zeros((len(source_ids), max_len, source_ids.shape[1]), np.float32) if return_attention else None
    for start, stop, rows in _chunks(len(source_ids), chunk):
        static, dynamic = fn["init"](params, _pad_rows(source_ids[start:stop], rows))
        prev = np.full(rows, START, dtype=np.int32)
        finished = np.zeros(rows, dtype=bool)
        for t in range(max_len):
            dynamic, prev, finished, scores = fn["greedy"](params, static, dynamic, prev, t, finished)
            out[start:stop, t] = np.asarray(prev)[: stop - start]
            if attention is not None:
                attention[start:stop, t] = np.asarray(scores)[: stop - start]
            if bool(np.asarray(finished)[: stop - start].all()):
                break
    if attention is not None:
        attention *= (np.cumsum(out == END, axis=1) - (out == END) == 0)[:, :, None]
        return out, attention
    return out


def beam_decode(
    s2s,
    source_ids: np.ndarray,
    beam: int = 4,
    max_len: int | None = None,
    length_penalty: float = 0.6,
    chunk: int = CHUNK,
) -> np.ndarray:
    """The best of ``beam`` partial translations kept at each step: ids ``[n, max_len]``.

    Example:
        >>> ids = beam_decode(s2s, source_ids, beam=4)
    """
    import jax
    import jax.numpy as jnp

    fn = _compiled(s2s)
    params = fn["params"]()
    max_len = min(max_len or s2s.target_len, s2s.target_len)
    source_ids = np.asarray(source_ids, dtype=np.int32)
    out = np.zeros((len(source_ids), max_len), dtype=np.int32)
    chunk = max(SMALLEST, chunk // beam)
    for start, stop, rows in _chunks(len(source_ids), chunk):
        static, dynamic = fn["init"](params, _pad_rows(source_ids[start:stop], rows))
        repeat = jax.tree_util.tree_map(lambda a: jnp.repeat(a, beam, axis=0), (static, dynamic))
        static, dynamic = repeat
        prev = jnp.full(rows * beam, START, dtype=jnp.int32)
        # only the first beam of each sentence is alive at the start, so the k beams do not begin as k copies
        scores = jnp.tile(jnp.array([0.0] + [-jnp.inf] * (beam - 1)), rows)
        finished = jnp.zeros(rows * beam, dtype=bool)
        history = jnp.zeros((rows * beam, max_len), dtype=jnp.int32)
        for t in range(max_len):
            dynamic, prev, scores, finished, history, _ = fn["beam"](
                params, static, dynamic, prev, t, scores, finished, history, beam=beam
            )
            if bool(np.asarray(finished).all()):
                break
        history, scores = np.asarray(history), np.asarray(scores)
        lengths = np.where((history == END).any(axis=1), (history == END).argmax(axis=1) + 1, max_len)
        normalized = scores / (((5.0 + lengths) / 6.0) ** length_penalty)
        normalized = np.where(np.asarray(finished), normalized, normalized - 1e9)  # an unfinished beam loses
        best = normalized.reshape(rows, beam).argmax(axis=1) + np.arange(rows) * beam
        out[start:stop] = history[best][: stop - start]
    return out


DECODINGS = ("greedy", "beam")


def decode_ids(s2s, source_ids: np.ndarray, decoding: str = "greedy", beam: int = 4) -> np.ndarray:
    """Output ids by ``decoding`` ("greedy" or "beam" with ``beam`` candidates).

    Example:
        >>> decode_ids(s2s, source_ids, "beam", beam=4)
    """
    if decoding == "beam" and beam > 1:
        return beam_decode(s2s, source_ids, beam=beam)
    return greedy_decode(s2s, source_ids)


def translate(s2s, tokenizer, sources: list[str], decoding: str = "greedy", beam: int = 4) -> list[str]:
    """Translations of ``sources`` (``tokenizer``: the run's PairTokenizer): encode, decode, back to text.

    Example:
        >>> translate(s2s, tokenizer, ["Tuesday, March 5, 2024"])
        ['mardi 5 mars 2024']
    """
    ids, _ = tokenizer.source.encode(list(sources), add_end=True)
    return tokenizer.target.decode(decode_ids(s2s, ids, decoding, beam))


def attention_maps(s2s, source_ids: np.ndarray, max_len: int | None = None) -> list[np.ndarray]:
    """Greedy decoding's attention weights, one ``[output tokens, source tokens]`` array per sentence (trimmed to
    the sentence's real tokens: the end token included on both sides).

    Example:
        >>> maps = attention_maps(s2s, source_ids[:3])
    """
    ids, attention = greedy_decode(s2s, source_ids, max_len, return_attention=True)
    maps = []
    for row, src in enumerate(np.asarray(source_ids)):
        n_out = int(np.argmax(ids[row] == END)) + 1 if (ids[row] == END).any() else ids.shape[1]
        n_src = int((src != PAD).sum())
        maps.append(attention[row, :n_out, :n_src])
    return maps


def teacher_forced_argmax(s2s, source_ids: np.ndarray, decoder_input: np.ndarray) -> np.ndarray:
    """The argmax token at every position when the decoder reads ``decoder_input`` (used to check decoding).

    Example:
        >>> teacher_forced_argmax(s2s, src, np.concatenate([[[START]], greedy_ids[:, :-1]], axis=1))
    """
    from deepwise.models.inference import predict_rows

    logits = predict_rows(s2s.training, {"source": source_ids, "decoder_input": decoder_input})
    return np.asarray(logits).argmax(axis=-1).astype(np.int32)
