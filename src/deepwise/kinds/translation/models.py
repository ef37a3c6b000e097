"""Sequence-to-sequence networks in Keras 3 (functional, JAX backend): a GRU encoder-decoder with attention (the
default, fast on a CPU) and a small Transformer.

Each comes as three Keras models that share their layers, hence their weights (:class:`Seq2Seq`):

- ``training``: ``{"source": [batch, S], "decoder_input": [batch, T]}`` -> logits ``[batch, T, target vocab]``.
  The decoder reads the true previous target token at every position (teacher forcing): one pass trains every
  position at once.
- ``encoder``: the source, read once per sentence at inference.
- ``decoder_step``: one output token from the previous one and the decoder's state (GRU: its hidden state;
  Transformer: a cache of each block's self-attention keys and values, so a step computes one position);
  :mod:`deepwise.kinds.translation.decode` runs it step by step, feeding back its own output (autoregressive).

The GRU model: a bidirectional GRU reads the source; its two final states, through a dense layer, start a GRU
decoder; at every output position the decoder's state attends over the encoder's outputs (``attention: luong``:
dot product with projected keys; ``bahdanau``: additive, a small network scores each pair), and the decoder state
with the attended context predicts the next token. The attention follows the decoder GRU (Luong's placement), so
the decoder runs as one GRU pass during training.

Example:
    >>> s2s = build_seq2seq(source_vocab=60, target_vocab=70, source_len=30, target_len=32, seed=0)
    >>> s2s.training.summary()
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from deepwise.backend import keras_module
from deepwise.errors import ConfigError
from deepwise.models.init import host_initializers

ARCHITECTURES = ("gru", "transformer")
ATTENTIONS = ("luong", "bahdanau")


@dataclass
class Seq2SeqConfig:
    """The network's size and shape (defaults: a GRU that reaches chrF 94-95 on the Babel dates in minutes)."""

    architecture: str = "gru"  # "gru" (default) or "transformer"
    embed_dim: int = 64  # token embedding size (GRU); the Transformer embeds to ``units``
    units: int | None = None  # GRU units (default 128), or the Transformer's width (default 64)
    attention: str = "luong"  # GRU only: "luong" (dot product) or "bahdanau" (additive)
    layers: int = 2  # Transformer only: encoder and decoder blocks
    heads: int = 4  # Transformer only
    ff_dim: int | None = None  # Transformer only: the feed-forward width (default 2 x width)
    dropout: float = 0.1

    def resolved(self) -> Seq2SeqConfig:
        """A copy with the architecture's default sizes filled in (the Transformer is narrower: on a CPU its steps
        cost more than the GRU's, measured on the Babel dates)."""
        units = self.units or (128 if self.architecture == "gru" else 64)
        return replace(self, units=units, ff_dim=self.ff_dim or 2 * units)

    def check(self) -> None:
        """Raise a ConfigError for an unknown architecture or attention, or sizes that cannot work."""
        if self.architecture not in ARCHITECTURES:
            raise ConfigError(
                f"Unknown translation model {self.architecture!r}.",
                expected=f"one of {', '.join(ARCHITECTURES)}",
                fix="translation.architecture: gru (default) or transformer",
            )
        if self.attention not in ATTENTIONS:
            raise ConfigError(
                f"Unknown attention {self.attention!r}.", expected=f"one of {', '.join(ATTENTIONS)}",
                fix="translation.attention: luong (default) or bahdanau",
            )
        if self.architecture == "transformer" and self.units % self.heads:
            raise ConfigError(
                f"The Transformer's width ({self.units}) is not a multiple of its heads ({self.heads}).",
                expected="units divisible by heads",
                fix=f"translation.units: a multiple of {self.heads}, e.g. 64 or 128",
            )


@dataclass
class Seq2Seq:
    """The three models that share weights, and what built them."""

    training: Any
    encoder: Any
    decoder_step: Any
    config: Seq2SeqConfig
    source_len: int
    target_len: int
    source_vocab: int
    target_vocab: int

    def state(self) -> dict[str, Any]:
        """JSON-ready arguments that rebuild the same network (load the weights into ``training`` afterwards)."""
        return {
            "config": asdict(self.config),
            "source_len": self.source_len,
            "target_len": self.target_len,
            "source_vocab": self.source_vocab,
            "target_vocab": self.target_vocab,
        }

    def describe(self) -> str:
        """The network in one paragraph, for the report."""
        c = self.config
        n = self.training.count_params()
        if c.architecture == "gru":
            how = "dot-product (Luong)" if c.attention == "luong" else "additive (Bahdanau)"
            return (
                f"A GRU encoder-decoder with {how} attention: a bidirectional GRU of {c.units} units a direction "
                f"reads the source ({c.embed_dim}-dimensional token embeddings), a GRU of {c.units} units writes "
                f"the translation one token at a time, looking back at every source position through attention; "
                f"{n:,} parameters."
            )
        return (
            f"A Transformer of {c.layers} encoder and {c.layers} decoder blocks, width {c.units}, {c.heads} "
            f"attention heads, feed-forward {c.ff_dim}; {n:,} parameters."
        )


def from_state(state: dict[str, Any], seed: int = 0) -> Seq2Seq:
    """The network that :meth:`Seq2Seq.state` describes, with fresh weights."""
    return build_seq2seq(
        state["source_vocab"], state["target_vocab"], state["source_len"], state["target_len"],
        Seq2SeqConfig(**state["config"]), seed=seed,
    )


def from_trained(state: dict[str, Any], model) -> Seq2Seq:
    """The network that :meth:`Seq2Seq.state` describes, with the weights of ``model`` (a trained or loaded
    ``training`` model of the same state): its encoder and one-step decoder then translate as it learned.

    Example:
        >>> s2s = from_trained(prep.network, run.model)
    """
    s2s = from_state(state)
    s2s.training.set_weights(model.get_weights())
    return s2s


def build_seq2seq(
    source_vocab: int,
    target_vocab: int,
    source_len: int,
    target_len: int,
    config: Seq2SeqConfig | None = None,
    seed: int = 0,
) -> Seq2Seq:
    """The training, encoder and one-step decoder models (built, not compiled), weights drawn with NumPy.

    ``source_len``/``target_len``: padded lengths of the source ids and of the decoder input (start + target).

    Example:
        >>> s2s = build_seq2seq(60, 70, 30, 32, Seq2SeqConfig(architecture="transformer", units=128))
    """
    config = (config or Seq2SeqConfig()).resolved()
    config.check()
    with host_initializers(seed):
        if config.architecture == "gru":
            models = _build_gru(source_vocab, target_vocab, source_len, target_len, config)
        else:
            models = _build_transformer(source_vocab, target_vocab, source_len, target_len, config)
    return Seq2Seq(*models, config, source_len, target_len, source_vocab, target_vocab)


def _build_gru(source_vocab: int, target_vocab: int, source_len: int, target_len: int, c: Seq2SeqConfig):
    keras = keras_module()
    layers, ops = keras.layers, keras.ops
    src_embed = layers.Embedding(source_vocab, c.embed_dim, mask_zero=True, name="source_embedding")
    encoder_rnn = layers.Bidirectional(
        layers.GRU(c.units, return_sequences=True, return_state=True, name="encoder_gru"), name="encoder"
    )
    bridge = layers.Dense(c.units, activation="tanh", name="bridge")
    key_proj = layers.Dense(c.units, use_bias=False, name="attention_keys")
    tgt_embed = layers.Embedding(target_vocab, c.embed_dim, name="target_embedding")
    decoder_rnn = layers.GRU(c.units, return_sequences=True, return_state=True, name="decoder_gru")
    if c.attention == "luong":
        attention = layers.Attention(name="attention")
    else:
        attention = layers.AdditiveAttention(name="attention")
    drop = layers.Dropout(c.dropout, name="dropout")
    combine = layers.Dense(c.units, activation="tanh", name="attentional_state")
    project = layers.Dense(target_vocab, name="logits")

    def encode(source):
        mask = ops.not_equal(source, 0)
        values, forward, backward = encoder_rnn(src_embed(source))
        state = bridge(ops.concatenate([forward, backward], axis=-1))
        return values, key_proj(values), state, mask

    def decode(tokens, state, values, keys, mask):
        outputs, new_state = decoder_rnn(tgt_embed(tokens), initial_state=state)
        context, scores = attention(
            [outputs, values, keys], mask=[None, mask], return_attention_scores=True
        )
        logits = project(drop(combine(ops.concatenate([outputs, context], axis=-1))))
        return logits, new_state, scores

    source = keras.Input((source_len,), dtype="int32", name="source")
    decoder_input = keras.Input((target_len,), dtype="int32", name="decoder_input")
    values, keys, state, mask = encode(source)
    logits, _, _ = decode(decoder_input, state, values, keys, mask)
    training = keras.Model({"source": source, "decoder_input": decoder_input}, logits, name="seq2seq_gru")

    enc_source = keras.Input((source_len,), dtype="int32", name="source")
    encoder = keras.Model(enc_source, list(encode(enc_source)), name="encoder")

    prev = keras.Input((1,), dtype="int32", name="previous_token")
    state_in = keras.Input((c.units,), name="state")
    values_in = keras.Input((source_len, 2 * c.units), name="values")
    keys_in = keras.Input((source_len, c.units), name="keys")
    mask_in = keras.Input((source_len,), dtype="bool", name="source_mask")
    step_logits, new_state, scores = decode(prev, state_in, values_in, keys_in, mask_in)
    step = keras.Model(
        [prev, state_in, values_in, keys_in, mask_in],
        [step_logits[:, 0, :], new_state, scores[:, 0, :]],
        name="decoder_step",
    )
    return training, encoder, step


def _positional(length: int, vocab: int, width: int, name: str):
    """Token plus learned position embeddings, scaled as in "Attention is all you need"; and the two layers."""
    keras = keras_module()
    layers, ops = keras.layers, keras.ops
    tokens = layers.Embedding(vocab, width, name=f"{name}_tokens")
    positions = layers.Embedding(length, width, name=f"{name}_positions")

    def embed(ids):
        return tokens(ids) * (width**0.5) + positions(ops.arange(length))[None, :, :]

    return embed, (tokens, positions)


def _build_transformer(source_vocab: int, target_vocab: int, source_len: int, target_len: int, c: Seq2SeqConfig):
    keras = keras_module()
    layers, ops = keras.layers, keras.ops
    key_dim = c.units // c.heads
    src_embed, _ = _positional(source_len, source_vocab, c.units, "source")
    tgt_embed, tgt_embed_parts = _positional(target_len, target_vocab, c.units, "target")

    def feed_forward(name):
        first = layers.Dense(c.ff_dim, activation="relu", name=f"{name}_ff1")
        second = layers.Dense(c.units, name=f"{name}_ff2")
        return lambda x: second(first(x))

    enc_blocks = []
    for i in range(c.layers):
        enc_blocks.append(
            (
                layers.MultiHeadAttention(c.heads, key_dim, dropout=c.dropout, name=f"enc{i}_self"),
                feed_forward(f"enc{i}"),
                layers.LayerNormalization(name=f"enc{i}_norm1"),
                layers.LayerNormalization(name=f"enc{i}_norm2"),
                layers.Dropout(c.dropout, name=f"enc{i}_drop"),
            )
        )
    dec_blocks = []
    for i in range(c.layers):
        dec_blocks.append(
            (
                layers.MultiHeadAttention(c.heads, key_dim, dropout=c.dropout, name=f"dec{i}_self"),
                layers.MultiHeadAttention(c.heads, key_dim, dropout=c.dropout, name=f"dec{i}_cross"),
                feed_forward(f"dec{i}"),
                [layers.LayerNormalization(name=f"dec{i}_norm{k}") for k in (1, 2, 3)],
                layers.Dropout(c.dropout, name=f"dec{i}_drop"),
            )
        )
    final_norm = layers.LayerNormalization(name="decoder_norm")
    project = layers.Dense(target_vocab, name="logits")

    def encode(source):
        mask = ops.not_equal(source, 0)
        pair_mask = ops.logical_and(mask[:, :, None], mask[:, None, :])
        x = src_embed(source)
        for attend, ff, norm1, norm2, drop in enc_blocks:  # pre-norm blocks: stable without warm-up
            h = norm1(x)
            x = x + drop(attend(h, h, attention_mask=pair_mask))
            x = x + drop(ff(norm2(x)))
        return x, mask

    def decode(prefix, memory, mask):
        x = tgt_embed(prefix)
        cross_mask = ops.logical_and(ops.ones_like(prefix, dtype="bool")[:, :, None], mask[:, None, :])
        scores = None
        for self_attend, cross_attend, ff, (n1, n2, n3), drop in dec_blocks:
            h = n1(x)
            x = x + drop(self_attend(h, h, use_causal_mask=True))
            h = n2(x)
            context, scores = cross_attend(h, memory, attention_mask=cross_mask, return_attention_scores=True)
            x = x + drop(context)
            x = x + drop(ff(n3(x)))
        return project(final_norm(x)), ops.mean(scores, axis=1)

    source = keras.Input((source_len,), dtype="int32", name="source")
    decoder_input = keras.Input((target_len,), dtype="int32", name="decoder_input")
    memory, mask = encode(source)
    logits, _ = decode(decoder_input, memory, mask)
    training = keras.Model({"source": source, "decoder_input": decoder_input}, logits, name="seq2seq_transformer")

    # inference: the encoder also projects the memory into each block's cross-attention keys and values, once
    enc_source = keras.Input((source_len,), dtype="int32", name="source")
    enc_memory, enc_mask = encode(enc_source)
    projected = []
    step_layers = _step_layers()
    for i, (_, cross_attend, *_) in enumerate(dec_blocks):
        projected += list(step_layers["project"](cross_attend, name=f"dec{i}_cross_memory")(enc_memory))
    encoder = keras.Model(enc_source, [enc_mask, *projected], name="encoder")
    step = _transformer_step(c, dec_blocks, tgt_embed_parts, final_norm, project, source_len, target_len)
    return training, encoder, step


def _attend(layer, h, keys, values, valid):
    """Keras MultiHeadAttention's computation for queries ``h`` against projected ``keys``/``values`` [B, L, H, d]
    (its own dense layers, so its weights), attending where ``valid`` [B, L] is true."""
    ops = keras_module().ops
    query = layer._query_dense(h) * (1.0 / float(layer._key_dim) ** 0.5)  # [B, 1, H, d]
    scores = ops.einsum("bqhd,bkhd->bhqk", query, keys)
    scores = ops.where(valid[:, None, None, :], scores, -1e9)
    probs = ops.softmax(scores, axis=-1)
    return layer._output_dense(ops.einsum("bhqk,bkhd->bqhd", probs, values)), probs


_STEP_LAYERS: dict = {}


def _step_layers() -> dict:
    """Layers that run a block's MultiHeadAttention one position at a time, sharing its weights (made once, after
    Keras is imported with its backend)."""
    if _STEP_LAYERS:
        return _STEP_LAYERS
    keras = keras_module()

    class _Wrapped(keras.layers.Layer):
        def __init__(self, attention, **kwargs):
            super().__init__(**kwargs)
            self.attention = attention

        def build(self, *shapes):
            self.built = True

    class ProjectMemory(_Wrapped):
        """The encoder memory as one block's cross-attention keys and values."""

        def call(self, memory):
            return self.attention._key_dense(memory), self.attention._value_dense(memory)

    class CachedSelfAttention(_Wrapped):
        """Self-attention of the new position over the cache, which it updates at that position."""

        def call(self, h, keys, values, here, seen):
            keys = keys * (1.0 - here) + self.attention._key_dense(h) * here
            values = values * (1.0 - here) + self.attention._value_dense(h) * here
            out, _ = _attend(self.attention, h, keys, values, seen)
            return out, keys, values

    class CrossAttentionStep(_Wrapped):
        """Cross-attention of the new position over the projected memory; also the weights, averaged over heads."""

        def call(self, h, keys, values, mask):
            out, probs = _attend(self.attention, h, keys, values, mask)
            return out, keras.ops.mean(probs, axis=1)[:, 0, :]

    _STEP_LAYERS.update(project=ProjectMemory, self=CachedSelfAttention, cross=CrossAttentionStep)
    return _STEP_LAYERS


def _transformer_step(c: Seq2SeqConfig, dec_blocks, embed_parts, final_norm, project, source_len, target_len):
    """One decoder position at a time with a cache of each block's self-attention keys and values (a step costs one
    position, not the whole prefix). Inputs: previous token, its position, source mask, then per block the cross
    keys, cross values, cached self keys and cached self values; outputs: logits, cross-attention weights, the
    updated caches."""
    keras = keras_module()
    ops = keras.ops
    heads, key_dim = c.heads, c.units // c.heads
    tokens_embed, positions_embed = embed_parts
    prev = keras.Input((1,), dtype="int32", name="previous_token")
    position = keras.Input((1,), dtype="int32", name="position")
    mask = keras.Input((source_len,), dtype="bool", name="source_mask")
    inputs, caches = [prev, position, mask], []
    x = tokens_embed(prev) * (c.units**0.5) + positions_embed(position)
    here = ops.one_hot(position[:, 0], target_len)[:, :, None, None]  # [B, T, 1, 1]
    seen = ops.less_equal(ops.arange(target_len)[None, :], position)  # [B, T]
    scores = None
    wrap = _step_layers()
    for i, (self_attend, cross_attend, ff, (n1, n2, n3), _) in enumerate(dec_blocks):
        cross_k = keras.Input((source_len, heads, key_dim), name=f"cross_keys_{i}")
        cross_v = keras.Input((source_len, heads, key_dim), name=f"cross_values_{i}")
        self_k = keras.Input((target_len, heads, key_dim), name=f"self_keys_{i}")
        self_v = keras.Input((target_len, heads, key_dim), name=f"self_values_{i}")
        inputs += [cross_k, cross_v, self_k, self_v]
        out, self_k, self_v = wrap["self"](self_attend, name=f"dec{i}_self_step")(n1(x), self_k, self_v, here, seen)
        caches += [self_k, self_v]
        x = x + out
        out, scores = wrap["cross"](cross_attend, name=f"dec{i}_cross_step")(n2(x), cross_k, cross_v, mask)
        x = x + out
        x = x + ff(n3(x))
    logits = project(final_norm(x))
    outputs = [logits[:, 0, :], scores, *caches]
    return keras.Model(inputs, outputs, name="decoder_step")
