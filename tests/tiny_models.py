"""Tiny real models for tests: a 2-layer LlamaForCausalLM with random weights and a trained tokenizer.

Shared by the lm-eval tests (harness_ext) and the mergekit tests (mergekit_hooks). Building one
takes about 0.1 s; everything is local, nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

DEFAULT_CORPUS = (
    "The quick brown fox jumps over the lazy dog.",
    "Question: What is the capital of France? Answer: Paris",
    "Question: How many legs does a spider have? Answer: eight",
    "A B C D yes no true false one two three four five six seven eight nine ten",
    "Lineage matters in predicting large language model performance.",
)


def make_tokenizer(path: Path, vocab: int = 256, corpus: Sequence[str] = DEFAULT_CORPUS):
    """Train a byte-level BPE tokenizer with ``tokenizers`` and save it with ``save_pretrained``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab, special_tokens=["<unk>", "<s>", "</s>", "<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(corpus), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    fast.save_pretrained(str(path))
    return fast


def make_tiny_llama(
    path: Path,
    seed: int = 0,
    vocab: int = 256,
    *,
    hidden: int = 64,
    layers: int = 2,
    corpus: Sequence[str] = DEFAULT_CORPUS,
) -> Path:
    """Write a random-weight LlamaForCausalLM (``hidden`` wide, ``layers`` deep) and its tokenizer.

    ``vocab`` caps the trained tokenizer's vocabulary; the model's embedding matches the tokenizer.
    The same ``seed`` gives the same weights. Returns ``path``.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = make_tokenizer(path, vocab, corpus)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 2,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
        max_position_embeddings=512, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(path))
    return path
