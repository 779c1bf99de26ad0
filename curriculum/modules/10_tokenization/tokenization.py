"""Module 10: Tokenization, turning text into the integer ids a model reads, and back.

Two tokenizers with one interface (`encode(text) -> list[int]`, `decode(ids) -> str`, `vocab_size`):

- `CharTokenizer`: one id per character, learned from a corpus, with an `<unk>` id for characters it never saw.
- `BPETokenizer`: byte-level Byte Pair Encoding (as in GPT-2). It starts from the 256 possible bytes of UTF-8, so
  it can encode any string, and learns merges of frequent neighbouring tokens until it has `vocab_size` ids.
  Because every string is bytes, decode(encode(s)) == s for every string, including characters never seen in
  training: they simply stay as their bytes.

Fill in each `TODO` below. Press "Run tests" to check your work; every test names the exercise it belongs to.
"""
import re


class Tokenizer:
    """The interface every tokenizer shares. Subclasses fill `self.vocab` (one entry per id) and write encode and
    decode; `vocab_size` is the number of ids, which is the number of rows a model's embedding table needs."""

    vocab = ()

    def encode(self, text):
        raise NotImplementedError(f"{type(self).__name__} must implement encode(text)")

    def decode(self, ids):
        raise NotImplementedError(f"{type(self).__name__} must implement decode(ids)")

    @property
    def vocab_size(self):
        return len(self.vocab)

    def _check_ids(self, ids):
        """Plain ints from a list, an integer array or a float Tensor of ids; refuse ids with no vocabulary entry."""
        data = getattr(ids, "data", ids)  # a Tensor's array
        ids = [int(i) for i in (data.reshape(-1).tolist() if hasattr(data, "reshape") else data)]
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"token id {bad[0]} is not in this tokenizer's vocabulary (ids 0..{self.vocab_size - 1})")
        return ids


# --- 10.1 and 10.2: characters ---------------------------------------------------------------------------------

class CharTokenizer(Tokenizer):
    """One token per character. Id 0 is `<unk>`, for characters the vocabulary does not hold; the others are
    the corpus's distinct characters in sorted order, so the same corpus always gives the same ids."""

    unk_token = "<unk>"
    unk_id = 0

    def __init__(self, vocab=None):
        self.vocab = [self.unk_token]
        self.char_to_id, self.id_to_char = {}, {0: self.unk_token}
        if vocab is not None:
            self.build_vocab(vocab)

    def build_vocab(self, corpus):
        """Learn the characters of `corpus` (a string, or a list of strings). Returns self."""
        text = corpus if isinstance(corpus, str) else "".join(corpus)
        # TODO 10.1: self.vocab is ["<unk>"] followed by the distinct characters of `text` in SORTED order (a set
        # has no stable order between runs, and the first-seen order changes with the corpus). Then fill
        # self.char_to_id (character -> its index in self.vocab) and self.id_to_char (index -> entry of self.vocab).
        ### BEGIN SOLUTION
        self.vocab = [self.unk_token] + sorted(set(text))
        self.char_to_id = {char: i for i, char in enumerate(self.vocab)}
        self.id_to_char = dict(enumerate(self.vocab))
        ### END SOLUTION
        return self

    def encode(self, text):
        """One id per character of `text`; characters outside the vocabulary get unk_id."""
        # TODO 10.2: look each character up in self.char_to_id, falling back to self.unk_id.
        ### BEGIN SOLUTION
        return [self.char_to_id.get(char, self.unk_id) for char in text]
        ### END SOLUTION

    def decode(self, ids):
        """The text of `ids`: each id's character, and "<unk>" where an unknown character stood."""
        ids = self._check_ids(ids)
        # TODO 10.2: join self.id_to_char of every id; unk_id becomes the visible "<unk>", never nothing.
        ### BEGIN SOLUTION
        return "".join(self.id_to_char[i] for i in ids)
        ### END SOLUTION


# --- 10.3 to 10.5: byte pair encoding --------------------------------------------------------------------------

# Pre-tokenization: BPE never merges across these pieces, so a token cannot swallow the space before the next
# word and a word's tokens do not depend on its neighbours. A piece is a word with the space before it, a run of
# punctuation with the space before it, or whitespace; together they are the whole text, nothing dropped.
_PIECES = re.compile(r" ?\w+| ?[^\w\s]+|\s+(?!\S)|\s+")


def split_words(text):
    """'Q: What is it?' -> ['Q', ':', ' What', ' is', ' it', '?']; ''.join of the pieces is always the text."""
    return _PIECES.findall(text)


def count_pairs(words):
    """How often each pair of neighbouring ids occurs, over `words`, a dict {tuple of ids: how many times that
    word occurs in the corpus}. Counting each DISTINCT word once, times its frequency, is what makes training
    fast: a 40 KB corpus has about 8,000 words but only about 1,000 distinct ones."""
    # TODO 10.3: for every word and every neighbouring pair (ids[i], ids[i + 1]) in it, add the word's frequency
    # to that pair's count. Return a dict {(a, b): count}.
    ### BEGIN SOLUTION
    counts = {}
    for ids, freq in words.items():
        for pair in zip(ids, ids[1:]):
            counts[pair] = counts.get(pair, 0) + freq
    return counts
    ### END SOLUTION


def merge_pair(ids, pair, new_id):
    """`ids` (a tuple) with every occurrence of `pair`, read left to right, replaced by `new_id`:
    merge_pair((1, 2, 3, 1, 2), (1, 2), 9) == (9, 3, 9) and merge_pair((5, 5, 5), (5, 5), 7) == (7, 5)."""
    # TODO 10.3: walk along ids; where ids[i], ids[i + 1] is the pair, emit new_id and step over BOTH; otherwise
    # emit ids[i] and step one. Return a tuple.
    ### BEGIN SOLUTION
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)
    ### END SOLUTION


class BPETokenizer(Tokenizer):
    """Byte-level BPE. Ids 0..255 are the bytes; training adds one id per merge, up to `vocab_size` ids.

    self.merges maps a pair of ids to the id that replaces it, in the order they were learned (their rank);
    self.vocab[i] is the bytes token i stands for.
    """

    def __init__(self, vocab_size=512):
        if vocab_size < 256:
            raise ValueError(f"a byte-level BPE needs at least the 256 byte ids, got vocab_size={vocab_size}")
        self.target_vocab_size = vocab_size
        self.merges = {}
        self.vocab = [bytes([b]) for b in range(256)]
        self._cache = {}

    def train(self, corpus):
        """Learn merges from `corpus` (a string) until vocab_size ids exist or no pair is left. Returns self."""
        self.merges, self.vocab, self._cache = {}, [bytes([b]) for b in range(256)], {}
        words = {}
        for piece in split_words(corpus):
            ids = tuple(piece.encode("utf-8"))
            words[ids] = words.get(ids, 0) + 1
        # TODO 10.4: repeat until self.vocab_size reaches self.target_vocab_size:
        #   - counts = count_pairs(words); stop when it is empty (every word is a single token);
        #   - best = the MOST frequent pair; break ties by the smaller pair, min(counts, key=lambda p: (-counts[p], p)),
        #     so training never depends on dict order;
        #   - new_id = len(self.vocab); record self.merges[best] = new_id and append the new token's bytes,
        #     self.vocab[a] + self.vocab[b], to self.vocab;
        #   - replace every word by merge_pair(word, best, new_id), keeping its frequency.
        ### BEGIN SOLUTION
        while self.vocab_size < self.target_vocab_size:
            counts = count_pairs(words)
            if not counts:
                break
            best = min(counts, key=lambda p: (-counts[p], p))
            new_id = len(self.vocab)
            self.merges[best] = new_id
            self.vocab.append(self.vocab[best[0]] + self.vocab[best[1]])
            words = {merge_pair(ids, best, new_id): freq for ids, freq in words.items()}
        ### END SOLUTION
        return self

    def _encode_piece(self, piece):
        """The ids of one piece: its bytes, merged in the order the merges were learned."""
        ids = tuple(piece.encode("utf-8"))
        # TODO 10.5: while ids has a pair that self.merges knows, merge the one learned FIRST (lowest new id:
        # min over the neighbouring pairs with key self.merges.get(pair, infinity)) everywhere with merge_pair.
        # Training merged in that order, so encoding a training word gives the tokens training made of it.
        ### BEGIN SOLUTION
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: self.merges.get(p, float("inf")))
            if pair not in self.merges:
                break
            ids = merge_pair(ids, pair, self.merges[pair])
        return list(ids)
        ### END SOLUTION

    def encode(self, text):
        """The ids of `text`: each piece encoded once and remembered, since words repeat."""
        ids = []
        for piece in split_words(text):
            if piece not in self._cache:
                self._cache[piece] = self._encode_piece(piece)
            ids.extend(self._cache[piece])
        return ids

    def decode(self, ids):
        """The text of `ids`. A model may produce ids whose bytes are not valid UTF-8 (half a character):
        those bytes become U+FFFD instead of an error. For ids made by encode, the text comes back exactly."""
        ids = self._check_ids(ids)
        # TODO 10.5: join the BYTES of all the tokens first, then decode them once with
        # .decode("utf-8", errors="replace"): a character like "é" is two bytes that may sit in two tokens.
        ### BEGIN SOLUTION
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")
        ### END SOLUTION

    def token_strings(self, ids):
        """Each id as readable text, for looking at how a text was cut: [' the', ' cat', '?']."""
        return [self.vocab[i].decode("utf-8", errors="replace") for i in self._check_ids(ids)]
