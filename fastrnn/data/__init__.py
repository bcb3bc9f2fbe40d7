"""Text data utilities: vocabularies, tokenizers and batching for sequence tasks.

>>> from fastrnn.data import Vocab, word_tokenize, pad_batch
>>> vocab = Vocab.build(["the cat sat", "the dog"], tokenizer=word_tokenize)
>>> padded, lengths = pad_batch([vocab.encode(word_tokenize("the cat")), [4]])
>>> padded.shape, lengths.tolist()
((2, 2), [2, 1])
"""

from fastrnn.data.batching import (
    iterate_minibatches,
    pad_batch,
    stream_batches,
    train_val_split,
)
from fastrnn.data.corpus import BUNDLED_CORPUS, load_text
from fastrnn.data.readers import (
    CONLLU_COLUMNS,
    DataFormatError,
    Sentence,
    read_conll2003,
    read_conllu,
    read_tsv,
)
from fastrnn.data.vocab import (
    DEFAULT_SPECIALS,
    Vocab,
    char_tokenize,
    one_hot,
    word_tokenize,
)

__all__ = [
    "BUNDLED_CORPUS",
    "CONLLU_COLUMNS",
    "DataFormatError",
    "Sentence",
    "DEFAULT_SPECIALS",
    "Vocab",
    "char_tokenize",
    "iterate_minibatches",
    "load_text",
    "one_hot",
    "pad_batch",
    "read_conll2003",
    "read_conllu",
    "read_tsv",
    "stream_batches",
    "train_val_split",
    "word_tokenize",
]
