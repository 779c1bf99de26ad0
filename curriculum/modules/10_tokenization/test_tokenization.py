"""Tests for module 10 (Tokenization). Expected ids come from hand-worked examples (the working is in the comments)
and from Python's own UTF-8 encoder, never from a reference implementation."""
import random

import numpy as np
import pytest

from tinytorch.text.tokenization import BPETokenizer, CharTokenizer, Tokenizer, count_pairs, merge_pair

# A small corpus in the course's question-answer style: enough repeated words for BPE to learn from.
CORPUS = "".join(f"Q: What colour is the {thing}?\nA: The {thing} is {colour}.\n\n"
                 for thing, colour in [("sun", "yellow"), ("sky", "blue"), ("grass", "green"), ("snow", "white"),
                                       ("sea", "blue"), ("cherry", "red"), ("crow", "black"), ("lemon", "yellow")] * 3)
UNSEEN = ["naïve café", "東京 🙂", "Ünïcödé ✓", "\t two\n\nlines  ", "", "ZZZ!!! 123", "the the the"]


def char_tokenizer(corpus="hello world"):
    tok = CharTokenizer()
    assert tok.build_vocab(corpus) is tok, "build_vocab should return the tokenizer itself (return self)"
    return tok


# --- 10.1 CharTokenizer: the vocabulary ---------------------------------------------------------------------

@pytest.mark.exercise("10.1")
def test_vocab_is_unk_then_sorted_characters():
    tok = char_tokenizer("hello world")
    want = ["<unk>", " ", "d", "e", "h", "l", "o", "r", "w"]  # sorted(set("hello world")) after <unk>
    assert list(tok.vocab) == want, f"vocab should be {want}, got {list(tok.vocab)}"
    assert tok.vocab_size == 9, f"vocab_size should count <unk> and the 8 distinct characters, got {tok.vocab_size}"
    assert tok.unk_id == 0 and tok.id_to_char[0] == "<unk>", "id 0 must stay the <unk> token"
    for i, char in enumerate(want[1:], start=1):
        assert tok.char_to_id[char] == i, f"char_to_id[{char!r}] should be {i}, got {tok.char_to_id.get(char)}"
        assert tok.id_to_char[i] == char, f"id_to_char[{i}] should be {char!r}, got {tok.id_to_char.get(i)!r}"


@pytest.mark.exercise("10.1")
def test_vocab_does_not_depend_on_the_order_of_the_corpus():
    letters = list("abcdefghijklmnopqrstuvwxyz")
    vocabs = []
    for seed in range(3):
        random.Random(seed).shuffle(letters)
        vocabs.append(list(char_tokenizer("".join(letters) * 2).vocab))
    want = ["<unk>"] + sorted(letters)
    for vocab in vocabs:
        assert vocab == want, ("the same characters in another order gave another vocabulary: sort them, so ids "
                               f"are stable between runs (a set's order is not); got {''.join(vocab[1:])}")


@pytest.mark.exercise("10.1")
def test_vocab_from_a_list_of_texts_and_from_the_constructor():
    from_list = char_tokenizer(["ab", "ca", "b"])
    assert list(from_list.vocab) == ["<unk>", "a", "b", "c"], f"a list of texts gave {list(from_list.vocab)}"
    given = CharTokenizer("cab")
    assert list(given.vocab) == ["<unk>", "a", "b", "c"], f"CharTokenizer('cab') gave vocab {list(given.vocab)}"
    assert isinstance(given, Tokenizer), "CharTokenizer should subclass Tokenizer"


# --- 10.2 CharTokenizer: encode and decode ------------------------------------------------------------------

@pytest.mark.exercise("10.2")
def test_char_encode_by_hand():
    tok = char_tokenizer("hello world")   # <unk>=0 ' '=1 d=2 e=3 h=4 l=5 o=6 r=7 w=8
    ids = tok.encode("hello world")
    assert ids == [4, 3, 5, 5, 6, 1, 8, 6, 7, 5, 2], f"encode('hello world') gave {ids}"
    assert all(type(i) is int for i in ids), "encode should return a list of Python ints"
    assert tok.encode("") == [], "encoding the empty string should give []"


@pytest.mark.exercise("10.2")
def test_unknown_characters_get_the_unk_id():
    tok = char_tokenizer("hello world")
    ids = tok.encode("hex é!")           # x, é and ! are not in the vocabulary
    assert ids == [4, 3, 0, 1, 0, 0], f"encode('hex é!') gave {ids}: every unknown character should be unk_id 0"
    assert 0 not in tok.encode("hello"), "a known character must never be encoded as unk_id"


@pytest.mark.exercise("10.2")
def test_char_decode_round_trip_and_visible_unknowns():
    tok = char_tokenizer("hello world")
    assert tok.decode(tok.encode("hello world")) == "hello world", "decode(encode(text)) should give the text back"
    assert tok.decode(tok.encode("hex")) == "he<unk>", (
        f"decode of an unknown character gave {tok.decode(tok.encode('hex'))!r}: it should show '<unk>', so the "
        "reader sees that something was lost, never drop it")
    assert tok.decode(np.array([4, 3, 5])) == "hel", "decode should accept a NumPy array of ids"
    with pytest.raises(ValueError):
        tok.decode([9])


# --- 10.3 BPE building blocks: counting and merging pairs ------------------------------------------------------

@pytest.mark.exercise("10.3")
def test_count_pairs_weights_each_word_by_its_frequency():
    counts = count_pairs({(1, 2, 3): 5, (2, 3): 2, (4,): 9})
    # (1, 2) only in the first word (5 times); (2, 3) in both: 5 + 2; a one-token word has no pair
    assert counts == {(1, 2): 5, (2, 3): 7}, f"count_pairs gave {counts}, want {{(1, 2): 5, (2, 3): 7}}"


@pytest.mark.exercise("10.3")
def test_count_pairs_counts_every_position():
    assert count_pairs({(1, 1, 1): 1}) == {(1, 1): 2}, "(1, 1, 1) holds the pair (1, 1) at two positions"
    assert count_pairs({(1, 2, 1, 2): 3}) == {(1, 2): 6, (2, 1): 3}, f"got {count_pairs({(1, 2, 1, 2): 3})}"
    assert count_pairs({}) == {}, "no words, no pairs"


@pytest.mark.exercise("10.3")
@pytest.mark.parametrize("ids, pair, want", [
    ((1, 2, 3, 1, 2), (1, 2), (9, 3, 9)),      # every occurrence, not just the first
    ((3, 1, 2, 1), (1, 2), (3, 9, 1)),
    ((1, 3, 2), (1, 2), (1, 3, 2)),            # not neighbours: nothing to merge
    ((5, 5, 5), (5, 5), (9, 5)),               # left to right, and a merged id is not reused
    ((5, 5, 5, 5), (5, 5), (9, 9)),
    ((2, 1), (1, 2), (2, 1)),                  # order matters
    ((), (1, 2), ()),
], ids=["every", "middle", "apart", "overlap-odd", "overlap-even", "reversed", "empty"])
def test_merge_pair(ids, pair, want):
    got = merge_pair(ids, pair, 9)
    assert tuple(got) == want, f"merge_pair({ids}, {pair}, 9) gave {got}, want {want}"
    assert isinstance(got, tuple), "merge_pair should return a tuple (words are dict keys in train)"


# --- 10.4 BPE training ---------------------------------------------------------------------------------------

@pytest.mark.exercise("10.4")
def test_train_by_hand():
    # "aaabdaaabac" is one piece. Pairs: aa 4, ab 2, bd da ba ac 1 -> merge (97, 97) "aa" = 256.
    # Then 256 a b d 256 a b a c: (256, 97) 2 and (97, 98) 2 tie -> the smaller pair (97, 98) "ab" = 257.
    # Then 256 257 d 256 257 a c: (256, 257) 2 -> "aaab" = 258, leaving 258 d 258 a c.
    tok = BPETokenizer(259).train("aaabdaaabac")
    assert tok.merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}, (
        f"merges should be aa, then ab, then aa+ab; got {tok.merges}. Merge the MOST frequent pair, ties to the "
        "smaller pair")
    assert list(tok.vocab[256:]) == [b"aa", b"ab", b"aaab"], f"the new tokens' bytes are {list(tok.vocab[256:])}"
    assert tok.vocab_size == 259, f"vocab_size should be 256 bytes + 3 merges, got {tok.vocab_size}"


@pytest.mark.exercise("10.4")
def test_train_counts_words_as_often_as_they_occur():
    # Pieces "cd", " ab", " ab", " ab": the pairs ' a' and 'ab' occur 3 times, 'cd' once.
    tok = BPETokenizer(258).train("cd ab ab ab")
    assert list(tok.vocab[256:]) == [b" a", b" ab"], (
        f"learned {list(tok.vocab[256:])}: ' ab' occurs three times, so ' a' then ' ab' should be merged before 'cd'")


@pytest.mark.exercise("10.4")
def test_train_stops_at_vocab_size_or_when_nothing_is_left():
    tok = BPETokenizer(300).train(CORPUS)
    assert tok.vocab_size == 300 and len(tok.merges) == 44, (
        f"training to vocab_size=300 should learn 44 merges, got vocab_size {tok.vocab_size}, {len(tok.merges)} merges")
    assert sorted(tok.merges.values()) == list(range(256, 300)), "merge ids should be 256, 257, ... in order"
    # "abc abc": pieces "abc" and " abc" -> ab, then abc, then " abc": after that every piece is one token.
    small = BPETokenizer(1000).train("abc abc")
    assert small.vocab_size == 259, f"training should stop when no pair is left (259 ids), got {small.vocab_size}"


@pytest.mark.exercise("10.4")
def test_more_merges_extend_fewer_merges():
    fewer, more = BPETokenizer(280).train(CORPUS), BPETokenizer(320).train(CORPUS)
    assert list(more.merges.items())[:24] == list(fewer.merges.items()), (
        "training longer should learn the same first merges and then more: merges are chosen one at a time")
    for (a, b), new_id in more.merges.items():
        assert more.vocab[new_id] == more.vocab[a] + more.vocab[b], (
            f"token {new_id} should be the bytes of {a} followed by those of {b}")


# --- 10.5 BPE encode and decode ------------------------------------------------------------------------------

@pytest.mark.exercise("10.5")
def test_encode_applies_merges_in_the_order_they_were_learned():
    tok = BPETokenizer(259).train("aaabdaaabac")
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99], f"got {tok.encode('aaabdaaabac')}"
    # Learned first "bc" (256), then "ab" (257): in "abc" the older merge wins, whatever comes first in the text.
    ranked = BPETokenizer(258)
    ranked.merges = {(98, 99): 256, (97, 98): 257}
    ranked.vocab = [bytes([i]) for i in range(256)] + [b"bc", b"ab"]
    ranked._cache = {}
    assert ranked.encode("abc") == [97, 256], (
        f"with merges bc (learned first) and ab, 'abc' should encode as a + bc = [97, 256], got {ranked.encode('abc')}")


@pytest.mark.exercise("10.5")
def test_bpe_round_trip_for_any_string():
    tok = BPETokenizer(300).train(CORPUS)
    for text in UNSEEN + [CORPUS]:
        ids = tok.encode(text)
        assert all(0 <= i < tok.vocab_size for i in ids), f"encode({text!r}) gave ids outside the vocabulary"
        assert tok.decode(ids) == text, f"decode(encode({text!r})) gave {tok.decode(ids)!r}"


@pytest.mark.exercise("10.5")
def test_decode_joins_bytes_before_decoding():
    tok = BPETokenizer(256)  # no merges: one id per byte
    assert tok.encode("é") == list("é".encode("utf-8")) == [195, 169], "with no merges, the ids are the UTF-8 bytes"
    assert tok.decode([195, 169]) == "é", (
        f"decode([195, 169]) gave {tok.decode([195, 169])!r}: 'é' is two bytes, so join every token's bytes and "
        "decode once, not token by token")
    assert tok.decode([104, 195]) == "h\ufffd", "bytes that are not valid UTF-8 should become U+FFFD, not raise"


@pytest.mark.exercise("10.5")
def test_bpe_compresses_known_words():
    tok = BPETokenizer(320).train(CORPUS)
    ids = tok.encode(CORPUS)
    assert len(ids) < 0.4 * len(CORPUS.encode("utf-8")), (
        f"64 merges should cut the training text to well under 0.4 tokens per byte, got {len(ids) / len(CORPUS):.2f}")
    assert len(tok.encode(" yellow")) == 1, f"' yellow' occurs 6 times and should be one token: {tok.encode(' yellow')}"
