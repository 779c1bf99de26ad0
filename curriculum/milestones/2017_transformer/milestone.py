"""2017: attention is all you need, twice, with your own transformer.

Part 1, the attention proof: an encoder of two TransformerBlocks reverses sequences of 6 to 8 letters. Position i
of the answer is the letter at position L - 1 - i of the input, and L varies, so the model must find where each
sequence ends and then look back at the mirrored position: attention's job. Every training batch is new random
sequences, so its accuracy, measured before the step learns from it, is an honest estimate; the held-out set (never
trained on) decides.

Part 2, a tiny GPT: your BPETokenizer cuts TinyTalks, a generated question-and-answer text, into tokens of about
two characters, and your GPT learns to predict the next one. The validation text (pairs the training text does not
hold) decides, in nats per character (the total loss over its tokens divided by the characters they spell), beside
what character counts alone achieve (unigram, bigram). The trained weights are saved in this browser for module 18,
and `interact` continues what you type.

Every number comes from `report.config` (milestone.toml's [config]).
"""
import math
import time

import numpy as np

from tinytorch.core.attention import scaled_dot_product_attention
from tinytorch.core.autograd import enable_autograd, no_grad
from tinytorch.core.layers import Layer, Linear
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import GPT, LayerNorm, TransformerBlock
from tinytorch.text.embeddings import Embedding, PositionalEncoding
from tinytorch.text.tokenization import BPETokenizer
from tinytorch_wasm import artifacts, plot
from tinytorch_wasm.datasets import load_tinytalks, text_baselines

PAD, LETTERS, MIN_LEN, MAX_LEN = 0, 26, 6, 8  # token 0 pads, 1..26 are A..Z
GPT_ARTIFACT = "tiny-gpt"


# --- before training: is it the 2017 transformer? -----------------------------------------------------------------

def check_the_parts():
    """Both tasks are small enough that a model with a wrong part can still learn them (we measured it: attention
    without its 1/sqrt(d) scale, a block without its residual path), and a GPT that sees the next token learns
    nothing but still scores well. So first measure, on small inputs, that the parts are the ones the 2017 paper
    describes; each check names what it found."""
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal((2, 3, 5, 16)).astype(np.float32) for _ in range(3))
    out, _ = scaled_dot_product_attention(Tensor(q), Tensor(k), Tensor(v))
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(16)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    expected = weights / weights.sum(axis=-1, keepdims=True) @ v
    got = np.asarray(out.data if isinstance(out, Tensor) else out)
    if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-4):
        raise ValueError("your scaled_dot_product_attention does not compute softmax(Q K^T / sqrt(d)) V on random "
                         "inputs with d = 16 (is the 1/sqrt(d) scale there? the softmax over the keys?); "
                         "module 12's tests say where")

    block = TransformerBlock(16, 2, 2)
    for p in block.parameters():
        p.data[...] = 0  # every sublayer now outputs zeros, so the block must return its input
    x = rng.standard_normal((2, 5, 16)).astype(np.float32)
    with no_grad():
        through = block(Tensor(x))
    if not np.allclose(np.asarray(through.data), x, atol=1e-5):
        raise ValueError("your TransformerBlock does not carry its input through: with every weight zero, its "
                         "sublayers output zeros and x + attn(...) then x + mlp(...) must give x back. Is a residual "
                         "`x + ...` missing, or a LayerNorm applied after the sum? Module 13's tests say where")

    np.random.seed(0)
    gpt = GPT(vocab_size=11, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=8)
    ids = rng.integers(0, 11, size=(3, 8))
    changed = ids.copy()
    changed[:, 4:] = (changed[:, 4:] + 1) % 11
    with no_grad():
        before, after = gpt(ids).data[:, :4], gpt(changed).data[:, :4]
    if not np.allclose(before, after, atol=1e-5):
        raise ValueError("your GPT is not causal: changing the tokens at positions 4-7 changed its predictions at "
                         "positions 0-3. A GPT that sees the next token only copies it, and its loss would mean "
                         "nothing. Each position may attend only to itself and earlier ones (causal_mask in "
                         "GPT.forward, passed on to every block's attention)")
    print("Checked your parts: attention is softmax(Q K^T / sqrt(d)) V, a TransformerBlock carries its input through "
          "its residual paths, your GPT is causal.\n")


# --- part 1: reversing sequences -----------------------------------------------------------------------------------

class Reverser(Layer):
    """Letters and positions -> TransformerBlocks (every position sees every other, padding included: the first
    padding token marks where the sequence ends) -> LayerNorm -> a score for each of the 27 tokens at each position."""

    def __init__(self, width, heads, layers, mlp_ratio):
        self.embedding = Embedding(LETTERS + 1, width)
        self.positions = PositionalEncoding(MAX_LEN, width)
        self.blocks = [TransformerBlock(width, heads, mlp_ratio) for _ in range(layers)]
        self.norm = LayerNorm(width)
        self.head = Linear(width, LETTERS + 1)

    def forward(self, ids):
        x = self.positions(self.embedding(ids))
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))

    def parameters(self):
        parts = [self.embedding, self.positions, *self.blocks, self.norm, self.head]
        return [p for part in parts for p in part.parameters()]


def sequences(rng, n, avoid=None):
    """n random letter sequences of 6-8 letters padded to 8, their reversals (padding stays put) and lengths.
    Sequences in `avoid` (codes of the held-out set) are drawn again, so training never sees a held-out one."""
    lengths = rng.integers(MIN_LEN, MAX_LEN + 1, size=n)
    position = np.arange(MAX_LEN)[None, :]
    real = position < lengths[:, None]
    x = np.where(real, rng.integers(1, LETTERS + 1, size=(n, MAX_LEN)), PAD)
    if avoid is not None:
        seen = np.isin(codes(x), avoid)
        if seen.any():
            x[seen] = sequences(rng, int(seen.sum()), avoid)[0]
            lengths = (x != PAD).sum(axis=1)
            real = position < lengths[:, None]
    mirror = np.clip(lengths[:, None] - 1 - position, 0, MAX_LEN - 1)  # answer position i reads input L - 1 - i
    y = np.where(real, np.take_along_axis(x, mirror, axis=1), PAD)
    return x, y, lengths


def codes(x):
    """One integer per sequence (its letters as base-27 digits), to compare whole sequences at once."""
    return x @ (27 ** np.arange(MAX_LEN, dtype=np.int64))


def whole_sequence_right(logits, y):
    """Per sequence: every position (letters and padding) predicted right."""
    return np.all(logits.argmax(axis=-1) == y, axis=1)


def heldout_accuracy(model, x, y):
    with no_grad():  # no backward follows: record no graph
        return float(np.mean(np.concatenate([whole_sequence_right(model(x[i:i + 250]).data, y[i:i + 250])
                                             for i in range(0, len(x), 250)])))


def letters(ids):
    return "".join(chr(ord("A") + int(i) - 1) for i in ids if i != PAD)


def attention_proof(report, c):
    """Train until the held-out accuracy reaches the target (or the step budget runs out); returns it."""
    target = c["reversal_target"]
    heldout_x, heldout_y, heldout_lengths = sequences(np.random.default_rng(c["seed"] + 1), c["reversal_heldout"])
    heldout = codes(heldout_x)
    rng = np.random.default_rng(c["seed"])
    np.random.seed(c["seed"])  # your layers draw their starting weights from np.random
    model = Reverser(c["reversal_width"], c["reversal_heads"], c["reversal_layers"], c["reversal_mlp_ratio"])
    optimizer, loss_fn = Adam(model.parameters(), lr=c["reversal_lr"]), CrossEntropyLoss()
    batch, steps = c["reversal_batch"], c["reversal_max_steps"]
    print(f"Part 1: reversing 6-8 letters with {sum(p.data.size for p in model.parameters()):,} parameters, "
          f"batches of {batch} new sequences; held-out: {len(heldout_x)} sequences never trained on.")

    started, recent, checked_at = time.perf_counter(), [], -c["reversal_check_gap"]
    curve_steps, batch_curve, held_steps, held_curve = [], [], [], []
    accuracy = None
    for step in range(1, steps + 1):
        x, y, _ = sequences(rng, batch, avoid=heldout)
        optimizer.zero_grad()
        logits = model(x)
        loss = loss_fn(logits.reshape(batch * MAX_LEN, LETTERS + 1), y.reshape(-1))
        loss.backward()
        optimizer.step()
        # Measured on this batch BEFORE the step above learned from it: sequences the model had never seen.
        recent = (recent + [float(np.mean(whole_sequence_right(logits.data, y)))])[-c["reversal_window"]:]
        due = step % c["reversal_eval_every"] == 0 or step == steps
        promising = len(recent) == c["reversal_window"] and np.mean(recent) >= target
        if due or (promising and step - checked_at >= c["reversal_check_gap"]):
            checked_at = step
            accuracy = heldout_accuracy(model, heldout_x, heldout_y)
            held_steps.append(step)
            held_curve.append(accuracy)
        if step % c["report_every"] == 0 or held_steps[-1:] == [step]:
            metrics = {"reversal_loss": float(loss.data), "new_batch_accuracy": recent[-1]}
            if held_steps[-1:] == [step]:
                metrics["reversal_accuracy"] = accuracy
            report.progress(step, steps + c["gpt_max_steps"], **metrics)
            curve_steps.append(step)
            batch_curve.append(recent[-1])
            plot.line(curve_steps, {"new batch (before learning from it)": batch_curve},
                      title="Reversal: whole-sequence accuracy on new sequences", xlabel="step", ylabel="accuracy")
            if held_curve:
                plot.line(held_steps, {"held-out": held_curve}, title="Reversal: held-out accuracy", xlabel="step",
                          ylabel="accuracy")
        if accuracy is not None and accuracy >= target and held_steps[-1] == step:
            break
    seconds = time.perf_counter() - started
    report.progress(step, steps + c["gpt_max_steps"], reversal_accuracy=accuracy, reversal_seconds=seconds)
    reached = "reached" if accuracy >= target else "NOT reached"
    print(f"Part 1 {reached}: {accuracy:.1%} of {len(heldout_x)} held-out sequences reversed entirely right after "
          f"{step} steps, {seconds:.1f} s.")
    show_attention(model, heldout_x, heldout_lengths)
    return accuracy


def show_attention(model, x, lengths):
    """Every head's attention for one held-out sequence of 8 letters (rows: answer positions, columns: the
    positions they read) and how much of each head's attention falls on the mirrored position L - 1 - i."""
    i = int(np.argmax(lengths == MAX_LEN))
    with no_grad():
        logits = model(x[i:i + 1]).data
    answer = "".join(chr(ord("A") + int(t) - 1) if t != PAD else "_" for t in logits.argmax(axis=-1)[0])
    maps, labels, mirror = [], [], np.arange(MAX_LEN)[::-1]
    for layer, block in enumerate(model.blocks, 1):
        weights = block.attn.attention_weights  # (1, heads, T, T) of the forward just run
        weights = np.asarray(weights.data if isinstance(weights, Tensor) else weights)[0]
        for head, w in enumerate(weights, 1):
            on_mirror = float(np.mean(w[np.arange(MAX_LEN), mirror]))
            maps.append(w)
            labels.append(f"layer {layer} head {head}: {on_mirror:.0%} on L-1-i")
    best = int(np.argmax([float(l.split(": ")[1].split("%")[0]) for l in labels]))
    plot.images(f"Attention while reversing {letters(x[i])} -> {answer}", maps, labels=labels, same_scale=True)
    print(f"Attention of {letters(x[i])} -> {answer}: {labels[best]} of its weight on the mirrored position "
          "(the anti-diagonal: answer position i reads input position L - 1 - i).")


# --- part 2: a tiny GPT on TinyTalks -------------------------------------------------------------------------------

def validation_windows(ids, context):
    """The validation ids cut into consecutive windows of `context`: every token after the first is predicted
    exactly once, from the tokens before it in its window."""
    n = (len(ids) - 1) // context
    x = ids[:n * context].reshape(n, context)
    y = ids[1:n * context + 1].reshape(n, context)
    return x, y


def nats_per_char(model, x, y, chars):
    """The validation text's total cross-entropy in nats, divided by the characters its predicted tokens spell:
    comparable with a character model's loss whatever the tokenizer."""
    total = 0.0
    with no_grad():
        for i in range(0, len(x), 64):
            logits = model(x[i:i + 64]).data.astype(np.float64)
            logits -= logits.max(axis=-1, keepdims=True)
            log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
            total -= np.take_along_axis(log_probs, y[i:i + 64, :, None], axis=-1).sum()
    return total / chars


def check_round_trip(tokenizer, text):
    """The loss per character counts the characters the tokens spell: only right if decode(encode(text)) is text."""
    back = tokenizer.decode(tokenizer.encode(text))
    if back != text:
        first = next((i for i, (a, b) in enumerate(zip(back, text)) if a != b), min(len(back), len(text)))
        raise ValueError(f"your BPETokenizer does not give the validation text back: decode(encode(text)) differs "
                         f"from character {first} on ({text[first:first + 20]!r} became {back[first:first + 20]!r})")


def learning_rate(c, step):
    """A short linear warm-up, then a cosine decay to a tenth: large steps while the loss falls fast, small ones
    to settle at the end of the budget."""
    if step <= c["gpt_warmup"]:
        return c["gpt_lr"] * step / c["gpt_warmup"]
    progress = min(1.0, (step - c["gpt_warmup"]) / max(1, c["gpt_max_steps"] - c["gpt_warmup"]))
    return c["gpt_lr"] * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def continuation(model, tokenizer, prompt, length, temperature):
    """What your GPT writes after `prompt`: `length` characters sampled with module 13's generate."""
    ids = tokenizer.encode(prompt)
    return tokenizer.decode(model.generate(ids, max_new_tokens=length, temperature=temperature)[len(ids):])


def prepare_text(c):
    """TinyTalks, cut into tokens by your BPETokenizer (trained on the training text only), checked for a clean
    round trip, with the character baselines of the same text."""
    talks = load_tinytalks()
    tokenizer = BPETokenizer(c["gpt_vocab"]).train(talks.train)
    check_round_trip(tokenizer, talks.validation)
    val_x, val_y = validation_windows(np.array(tokenizer.encode(talks.validation), dtype=np.int64), c["gpt_context"])
    return {"talks": talks, "tokenizer": tokenizer, "baselines": text_baselines(talks.train, talks.validation),
            "train": np.array(tokenizer.encode(talks.train), dtype=np.int64), "val_x": val_x, "val_y": val_y,
            "chars": len(tokenizer.decode(val_y.reshape(-1)))}  # what the consecutive predicted tokens spell


def tiny_gpt(report, c, text, first_step):
    """Train until the validation loss reaches the target (or the step budget runs out); returns it."""
    target, tokenizer, baselines = c["gpt_target"], text["tokenizer"], text["baselines"]
    train, val_x, val_y, chars = text["train"], text["val_x"], text["val_y"], text["chars"]
    np.random.seed(c["seed"])
    shape = {"vocab_size": tokenizer.vocab_size, "embed_dim": c["gpt_width"], "num_layers": c["gpt_layers"],
             "num_heads": c["gpt_heads"], "max_seq_len": c["gpt_context"]}
    model = GPT(**shape)
    optimizer, loss_fn = Adam(model.parameters(), lr=c["gpt_lr"]), CrossEntropyLoss()
    rng = np.random.default_rng(c["seed"])
    batch, context, steps, vocab = c["gpt_batch"], c["gpt_context"], c["gpt_max_steps"], tokenizer.vocab_size
    size = len(text["talks"].train)
    print(f"\nPart 2: your BPE cut TinyTalks' {size:,} training characters into {len(train):,} tokens "
          f"({size / len(train):.2f} characters each, {vocab} distinct); a GPT of "
          f"{sum(p.data.size for p in model.parameters()):,} parameters sees {context} tokens at a time. Validation: "
          f"{chars:,} characters of other pairs. Baselines: unigram {baselines['unigram']:.2f}, bigram "
          f"{baselines['bigram']:.2f} nats/char; target {target:.2f}.")

    started, evaluated, curve, loss_value = time.perf_counter(), [], [], None
    for step in range(1, steps + 1):
        optimizer.lr = learning_rate(c, step)
        starts = rng.integers(0, len(train) - context - 1, size=batch)
        window = starts[:, None] + np.arange(context + 1)[None, :]
        x, y = train[window[:, :-1]], train[window[:, 1:]]
        optimizer.zero_grad()
        loss = loss_fn(model(x).reshape(batch * context, vocab), y.reshape(-1))
        loss.backward()
        optimizer.step()
        if step % c["gpt_eval_every"] and step != steps:
            if step % c["report_every"] == 0:
                report.progress(first_step + step, first_step + steps, train_loss=float(loss.data))
            continue
        loss_value = nats_per_char(model, val_x, val_y, chars)
        evaluated.append(step)
        curve.append(loss_value)
        report.progress(first_step + step, first_step + steps, train_loss=float(loss.data), validation_loss=loss_value)
        plot.line(evaluated, {"validation": curve, "bigram baseline": [baselines["bigram"]] * len(curve),
                              "target": [target] * len(curve)},
                  title="Tiny GPT: validation loss", xlabel="step", ylabel="nats per character")
        if loss_value <= target:
            break
        if len(evaluated) % c["sample_every_evals"] == 0:
            text = continuation(model, tokenizer, c["sample_prompt"], c["sample_length"], c["sample_temperature"])
            print(f"step {step}, validation {loss_value:.2f} nats/char: {c['sample_prompt'] + text!r}")
    seconds = time.perf_counter() - started
    report.progress(first_step + step, first_step + steps, validation_loss=loss_value, gpt_seconds=seconds)
    reached = "reached" if loss_value <= target else "NOT reached"
    print(f"Part 2 {reached}: validation loss {loss_value:.3f} nats/char after {step} steps, {seconds:.1f} s "
          f"(bigram {baselines['bigram']:.2f}, unigram {baselines['unigram']:.2f}).")
    np.random.seed(c["seed"])
    text = continuation(model, tokenizer, c["sample_prompt"], 2 * c["sample_length"], c["sample_temperature"])
    print(f"Sample: {c['sample_prompt'] + text!r}")
    artifacts.save(GPT_ARTIFACT, artifacts.state_dict(model), meta={
        "model": shape, "milestone": "2017", "validation_loss": round(loss_value, 4), "target": target, "steps": step,
        "tokenizer": {"kind": "BPETokenizer", "vocab_size": c["gpt_vocab"], "trained_on": "TinyTalks train",
                      "check": {"text": c["sample_prompt"], "ids": tokenizer.encode(c["sample_prompt"])}}})
    return loss_value


def run(report):
    enable_autograd()
    c = {**report.config, "reversal_target": report.targets["reversal_accuracy"],
         "gpt_target": report.targets["validation_loss"]}
    check_the_parts()
    text = prepare_text(c)  # before training too: a tokenizer that loses text fails here, not after part 1
    accuracy = attention_proof(report, c)
    loss = tiny_gpt(report, c, text, first_step=c["reversal_max_steps"])
    return {"reversal_accuracy": accuracy, "validation_loss": loss}


# --- after the run: the text box ---------------------------------------------------------------------------------

def interact(text):
    """Continue `text` with the GPT this milestone saved (up to the end of one answer)."""
    saved = artifacts.load(GPT_ARTIFACT)
    if saved is None:
        raise LookupError("no trained GPT is saved yet: run the milestone first (part 2 saves its weights)")
    if not text or len(text) > 400:
        raise ValueError(f"give between 1 and 400 characters to continue (got {len(text)})")
    tokenizer = saved_tokenizer(saved.meta["tokenizer"])
    model = GPT(**saved.meta["model"])
    artifacts.load_state_dict(model, saved.arrays)
    written = continuation(model, tokenizer, text, 120, 0.8)
    end = written.find("\n\n")
    return text + (written[:end] if end >= 0 else written)


def saved_tokenizer(spec):
    """Your BPETokenizer trained again on the same text (it is deterministic), checked against the ids the saved
    GPT was trained with: a tokenizer changed since then would feed it other ids."""
    tokenizer = BPETokenizer(spec["vocab_size"]).train(load_tinytalks().train)
    if tokenizer.encode(spec["check"]["text"]) != spec["check"]["ids"]:
        raise ValueError("your BPETokenizer cuts text differently from the one the saved GPT learned with: run the "
                         "milestone again to train a GPT on your current tokenizer")
    return tokenizer
