"""fastrnn.data: vocabularies, tokenizers and batching (tiny self-made data)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fastrnn.data as data
from fastrnn.data import (
    Vocab,
    char_tokenize,
    iterate_minibatches,
    one_hot,
    pad_batch,
    stream_batches,
    train_val_split,
    word_tokenize,
)

# ---------------------------------------------------------------------------- Vocab


def test_default_specials_ids():
    v = Vocab.build("abc")
    assert v.itos[:4] == ["<PAD>", "<UNK>", "<BOS>", "<EOS>"]
    assert (v.pad_id, v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2, 3)
    assert data.DEFAULT_SPECIALS == ("<PAD>", "<UNK>", "<BOS>", "<EOS>")


def test_custom_specials():
    v = Vocab.build("ab", specials=["<pad>", "<unk>"], unk_token="<unk>")
    assert v.itos == ["<pad>", "<unk>", "a", "b"]
    assert v.unk_id == 1
    assert v.pad_id is None and v.bos_id is None
    assert v.encode("z").tolist() == [1]


def test_build_orders_by_frequency_then_first_appearance():
    v = Vocab.build([["b", "a", "c", "a"], ["c", "d"]])
    # counts a:2 c:2 b:1 d:1; ties go to first appearance (b, a, c, d)
    assert v.itos[4:] == ["a", "c", "b", "d"]
    assert v.stoi == {t: i for i, t in enumerate(v.itos)}


def test_build_min_freq_and_max_size():
    text = "aaaabbbcc d"
    v = Vocab.build(text, min_freq=2)
    assert v.itos[4:] == ["a", "b", "c"]
    assert "d" not in v and " " not in v
    v = Vocab.build(text, max_size=6)
    assert v.itos[4:] == ["a", "b"]
    assert len(v) == 6
    assert len(Vocab.build(text, max_size=4)) == 4


def test_build_ignores_specials_in_data_and_uses_tokenizer():
    v = Vocab.build(["the <UNK> cat", "the dog"], tokenizer=str.split)
    assert v.itos[4:] == ["the", "cat", "dog"]
    assert v.itos.count("<UNK>") == 1


def test_encode_decode_round_trip_and_unknown():
    v = Vocab.build(["hello world".split()])
    ids = v.encode(["hello", "world", "hello"])
    assert ids.dtype == np.int64 and ids.shape == (3,)
    assert v.decode(ids) == ["hello", "world", "hello"]
    assert v.encode(["hello", "mars"]).tolist() == [v.stoi["hello"], 1]
    assert v.decode(v.encode(["mars"])) == ["<UNK>"]
    assert v.encode([]).shape == (0,) and v.encode([]).dtype == np.int64


def test_encode_bos_eos_and_decode_skip_specials():
    v = Vocab.build("ab")
    ids = v.encode("ba", add_bos=True, add_eos=True)
    assert ids.tolist() == [2, v.stoi["b"], v.stoi["a"], 3]
    assert v.decode(ids, skip_specials=True) == ["b", "a"]


def test_contains_len_eq():
    v = Vocab.build("xy")
    assert "x" in v and "<PAD>" in v and "q" not in v and 5 not in v
    assert len(v) == 6
    assert v == Vocab(["x", "y"])
    assert v != Vocab(["y", "x"])


def test_to_dict_from_dict_json_round_trip():
    v = Vocab.build(
        ["to be or not to be".split()], specials=["<P>", "<U>"], unk_token="<U>"
    )
    restored = Vocab.from_dict(json.loads(json.dumps(v.to_dict())))
    assert restored == v
    assert restored.stoi == v.stoi
    assert restored.encode(["be", "zzz"]).tolist() == v.encode(["be", "zzz"]).tolist()


def test_from_dict_errors():
    good = Vocab.build("ab").to_dict()
    with pytest.raises(ValueError, match="expected keys"):
        Vocab.from_dict({"itos": []})
    with pytest.raises(ValueError, match="version"):
        Vocab.from_dict({**good, "version": 99})
    with pytest.raises(ValueError, match="start with the specials"):
        Vocab.from_dict({**good, "itos": ["a", "b"]})
    with pytest.raises(TypeError, match="expected a dict"):
        Vocab.from_dict([1, 2])


def test_vocab_errors():
    with pytest.raises(ValueError, match="min_freq >= 1, got 0"):
        Vocab.build("a", min_freq=0)
    with pytest.raises(TypeError, match="min_freq to be an int, got float"):
        Vocab.build("a", min_freq=1.5)
    with pytest.raises(ValueError, match="max_size >= 4, got 3"):
        Vocab.build("a", max_size=3)
    with pytest.raises(TypeError, match="got int at position 1"):
        Vocab.build([["a", 3]])
    with pytest.raises(TypeError, match="expected a str or a sequence of str tokens"):
        Vocab.build([5])
    with pytest.raises(ValueError, match="unk_token to be one of specials"):
        Vocab(["a"], specials=["<PAD>"])
    with pytest.raises(ValueError, match="distinct specials"):
        Vocab([], specials=["<X>", "<X>"], unk_token=None)
    with pytest.raises(ValueError, match="distinct tokens, got 'a' twice"):
        Vocab(["a", "a"])
    with pytest.raises(TypeError, match="got a str"):
        Vocab("abc")
    v = Vocab(["a"])
    with pytest.raises(
        ValueError, match=r"expected ids in \[0, 5\), got 7 at position 1"
    ):
        v.decode([4, 7])
    with pytest.raises(ValueError, match=r"got -1 at position 0"):
        v.decode([-1])
    with pytest.raises(ValueError, match="expected ids to be 1-D"):
        v.decode([[4]])
    with pytest.raises(TypeError, match="integer dtype, got float64"):
        v.decode([4.0])
    strict = Vocab(["a"], specials=["<PAD>"], unk_token=None)
    with pytest.raises(KeyError, match="got 'b' at position 1"):
        strict.encode(["a", "b"])
    with pytest.raises(ValueError, match="<BOS> among specials"):
        strict.encode(["a"], add_bos=True)


# ----------------------------------------------------------------------- tokenizers


def test_char_tokenize():
    assert char_tokenize("ab c\n") == ["a", "b", " ", "c", "\n"]
    assert char_tokenize("") == []
    with pytest.raises(TypeError, match="expected text to be a str, got list"):
        char_tokenize(["a"])


def test_word_tokenize():
    assert word_tokenize("Hello, world! Don't stop.") == [
        "Hello",
        ",",
        "world",
        "!",
        "Don't",
        "stop",
        ".",
    ]
    assert word_tokenize("  A  b\tC  ", lower=True) == ["a", "b", "c"]
    assert word_tokenize("x=3.5") == ["x", "=", "3", ".", "5"]
    assert word_tokenize("") == []
    with pytest.raises(TypeError, match="got bytes"):
        word_tokenize(b"abc")


# -------------------------------------------------------------------------- one_hot


def test_one_hot():
    out = one_hot([2, 0, 1], 4)
    assert out.dtype == np.float32 and out.shape == (3, 4)
    np.testing.assert_array_equal(out, np.eye(4, dtype=np.float32)[[2, 0, 1]])
    ids = np.array([[0, 1], [2, 2], [1, 0]])
    out = one_hot(ids, 3, dtype=np.float64)
    assert out.shape == (3, 2, 3) and out.dtype == np.float64
    np.testing.assert_array_equal(out.argmax(-1), ids)
    np.testing.assert_array_equal(out.sum(-1), np.ones((3, 2)))
    assert one_hot(np.zeros(0, dtype=np.int64), 5).shape == (0, 5)


def test_one_hot_errors():
    with pytest.raises(ValueError, match=r"expected ids in \[0, 3\), got 3"):
        one_hot([0, 3], 3)
    with pytest.raises(ValueError, match=r"got -1"):
        one_hot([-1], 3)
    with pytest.raises(TypeError, match="integer dtype, got float64"):
        one_hot([0.0], 3)
    with pytest.raises(ValueError, match="num_classes >= 1, got 0"):
        one_hot([0], 0)


# ------------------------------------------------------------------------ pad_batch


def test_pad_batch_time_major():
    padded, lengths = pad_batch([[5, 6, 7], [8], np.array([9, 10])], pad_id=0)
    assert padded.dtype == np.int64 and lengths.dtype == np.int64
    assert padded.shape == (3, 3)
    np.testing.assert_array_equal(lengths, [3, 1, 2])
    np.testing.assert_array_equal(padded, [[5, 8, 9], [6, 0, 10], [7, 0, 0]])
    assert padded.flags.c_contiguous


def test_pad_batch_batch_major_and_pad_id():
    padded, lengths = pad_batch([[1, 2], [3, 4, 5, 6]], pad_id=-1, time_major=False)
    assert padded.shape == (2, 4)
    np.testing.assert_array_equal(padded, [[1, 2, -1, -1], [3, 4, 5, 6]])
    np.testing.assert_array_equal(lengths, [2, 4])
    tm, _ = pad_batch([[1, 2], [3, 4, 5, 6]], pad_id=-1)
    np.testing.assert_array_equal(tm, padded.T)


def test_pad_batch_errors():
    with pytest.raises(ValueError, match="empty sequence at index 2"):
        pad_batch([[1], [2, 3], []])
    with pytest.raises(ValueError, match="at least one sequence, got 0"):
        pad_batch([])
    with pytest.raises(ValueError, match=r"expected sequences\[1\] to be 1-D, got 2-D"):
        pad_batch([[1], [[2]]])
    with pytest.raises(TypeError, match="integer dtype, got float64"):
        pad_batch([[1.5]])
    with pytest.raises(TypeError, match="got int"):
        pad_batch(5)
    with pytest.raises(TypeError, match="pad_id to be an int"):
        pad_batch([[1]], pad_id=0.5)


# ------------------------------------------------------------------- stream_batches


def test_stream_batches_alignment_and_contiguity():
    ids = np.arange(100, 123)  # 23 ids, B=3 -> S=7 per stream, 2 ids dropped
    batches = list(stream_batches(ids, batch_size=3, seq_len=4))
    assert [x.shape for x, _ in batches] == [(4, 3), (2, 3)]
    for inputs, targets in batches:
        assert inputs.dtype == np.int64 and targets.shape == inputs.shape
        # next-token targets within each stream
        np.testing.assert_array_equal(targets[:-1], inputs[1:])
        np.testing.assert_array_equal(targets, inputs + 1)  # ids are consecutive
    # each column, concatenated over windows, is one contiguous slice of ids
    inputs_all = np.concatenate([x for x, _ in batches])
    targets_all = np.concatenate([y for _, y in batches])
    for b in range(3):
        np.testing.assert_array_equal(inputs_all[:, b], ids[b * 7 : b * 7 + 6])
        np.testing.assert_array_equal(targets_all[:, b], ids[b * 7 + 1 : b * 7 + 7])


def test_stream_batches_drop_last_and_exact_fit():
    ids = np.arange(20)  # B=2 -> S=10 -> 9 steps
    assert [x.shape[0] for x, _ in stream_batches(ids, 2, 3)] == [3, 3, 3]
    assert [x.shape[0] for x, _ in stream_batches(ids, 2, 4)] == [4, 4, 1]
    assert [x.shape[0] for x, _ in stream_batches(ids, 2, 4, drop_last=True)] == [4, 4]
    ((x, y),) = stream_batches([7, 8], 1, 10)
    assert x.tolist() == [[7]] and y.tolist() == [[8]]


def test_stream_batches_errors_are_eager():
    with pytest.raises(ValueError, match="at least 2 \\* batch_size = 8 ids, got 7"):
        stream_batches(np.arange(7), 4, 2)
    with pytest.raises(ValueError, match="batch_size >= 1, got 0"):
        stream_batches(np.arange(7), 0, 2)
    with pytest.raises(ValueError, match="seq_len >= 1, got 0"):
        stream_batches(np.arange(7), 1, 0)
    with pytest.raises(ValueError, match="expected ids to be 1-D, got 2-D"):
        stream_batches(np.zeros((4, 4), dtype=np.int64), 1, 2)
    with pytest.raises(TypeError, match="integer dtype, got float32"):
        stream_batches(np.zeros(8, dtype=np.float32), 1, 2)


# ------------------------------------------------------------------ train_val_split


def test_train_val_split():
    ids = np.arange(20)
    train, val = train_val_split(ids, 0.25)
    np.testing.assert_array_equal(train, np.arange(15))
    np.testing.assert_array_equal(val, np.arange(15, 20))
    assert train.dtype == np.int64
    train, val = train_val_split(list(range(10)))
    assert train.tolist() == list(range(9)) and val.tolist() == [9]


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_train_val_split_bad_fraction(fraction):
    with pytest.raises(ValueError, match=rf"val_fraction in \(0, 1\), got {fraction}"):
        train_val_split(np.arange(10), fraction)


def test_train_val_split_too_short_and_types():
    with pytest.raises(ValueError, match="got 3 ids"):
        train_val_split(np.arange(3), 0.1)  # round(0.3) == 0 validation ids
    with pytest.raises(ValueError, match="got 1 ids"):
        train_val_split([5], 0.5)
    with pytest.raises(TypeError, match="val_fraction to be a float, got str"):
        train_val_split(np.arange(10), "0.1")


# -------------------------------------------------------------- iterate_minibatches


def test_iterate_minibatches_in_order():
    items = list("abcdefg")
    assert list(iterate_minibatches(items, 3)) == [
        ["a", "b", "c"],
        ["d", "e", "f"],
        ["g"],
    ]
    assert list(iterate_minibatches(items, 3, drop_last=True)) == [
        ["a", "b", "c"],
        ["d", "e", "f"],
    ]
    assert list(iterate_minibatches([], 2)) == []


def test_iterate_minibatches_shuffle_is_deterministic_per_seed():
    items = list(range(50))
    a = list(iterate_minibatches(items, 8, shuffle=True, seed=3))
    b = list(iterate_minibatches(items, 8, shuffle=True, seed=3))
    c = list(iterate_minibatches(items, 8, shuffle=True, seed=4))
    assert a == b
    assert a != c
    flat = [x for batch in a for x in batch]
    assert flat != items and sorted(flat) == items
    assert [len(batch) for batch in a] == [8] * 6 + [2]


def test_iterate_minibatches_errors():
    with pytest.raises(ValueError, match="batch_size >= 1, got 0"):
        iterate_minibatches([1], 0)
    with pytest.raises(TypeError, match="items to be a sequence, got set"):
        iterate_minibatches({1, 2}, 1)
    with pytest.raises(TypeError, match="seed to be an int, got str"):
        iterate_minibatches([1], 1, shuffle=True, seed="x")
