"""A milestone with several criteria, a saved artifact and a text box, in Chromium (the 2017 transformer, in its
quick configuration): it reaches both criteria with the reference, Stop keeps the partial values, the GPT's weights
are stored in IndexedDB and survive a reload, the text box continues a prompt with them; when the browser will not
store them (full or disabled), the page says so and they stay usable on the page."""
import base64
import json

import numpy as np
import pytest

from conftest import open_module
from tinytorch_wasm import artifacts, milestones
from tinytorch_wasm.package import assemble
from tinytorch_wasm.running import package_on_path

MILESTONE = milestones.milestone("2017")
PROMPT = "Q: What colour is a lemon?\nA:"
HEAP_LIMIT = 256 * 2**20


def page_url(server, config="quick"):
    return f"{server.url}milestones/{MILESTONE.id}-{MILESTONE.slug}/?config={config}"


def wait_for_verdict(page):
    page.wait_for_function("document.querySelector('.tt-milestone').dataset.result !== undefined", timeout=900_000)
    return page.get_attribute(".tt-milestone", "data-result")


def ask(page, text):
    page.evaluate("delete document.querySelector('.tt-interact').dataset.state")
    page.fill(".tt-prompt", text)
    page.wait_for_function("!document.querySelector('.tt-interact button').disabled")
    page.click(".tt-interact button")
    page.wait_for_selector(".tt-interact[data-state]")
    return page.get_attribute(".tt-interact", "data-state"), page.inner_text(".tt-prompt-reply")


def test_2017_reaches_both_criteria_saves_its_gpt_and_continues_a_prompt(server, browser_profile):
    page = open_module(browser_profile(), page_url(server))
    assert "quick" in page.inner_text(".tt-notices")
    page.wait_for_function("document.querySelector('.tt-prompt-hint').textContent.includes('Run the milestone first')")
    assert not page.is_enabled(".tt-interact button"), "the text box is usable before any GPT was trained"

    # Stop after the first held-out measurement: the partial result keeps the values measured so far.
    page.locator("button", has_text="Run milestone").click()
    page.wait_for_function("/Step (1[0-9][0-9]|[2-9][0-9][0-9]) /.test(document.querySelector('.tt-live').textContent)",
                           timeout=600_000)
    page.locator("button", has_text="Stop").click()
    assert wait_for_verdict(page) == "not-passed"
    stopped = page.evaluate("window.tinytorch.state.progress().milestones['2017']")
    assert stopped["stopped"] and not stopped["passed"], stopped
    assert stopped["criteria"][0]["value"] is not None and stopped["criteria"][1]["value"] is None, stopped
    assert "Partial result kept" in page.inner_text(".tt-milestone .tt-summary")

    page.evaluate("delete document.querySelector('.tt-milestone').dataset.result")
    page.locator("button", has_text="Run milestone").click()
    assert wait_for_verdict(page) == "passed", page.inner_text(".tt-milestone .tt-summary")
    saved = page.evaluate("window.tinytorch.state.progress().milestones['2017']")
    assert saved["passed"] and saved["config"] == "quick" and saved["value"] == 1.0
    assert [c["reached"] for c in saved["criteria"]] == [True, True], saved["criteria"]
    assert saved["peakWasmBytes"] <= HEAP_LIMIT, f"peak heap {saved['peakWasmBytes'] / 2**20:.0f} MB"
    summary = page.inner_text(".tt-milestone .tt-summary")
    assert "reversal_accuracy" in summary and "nats/char" in summary, summary
    assert page.locator(".tt-chart[aria-label^='Attention while reversing']").count() == 1
    assert page.locator(".tt-chart[aria-label='Tiny GPT: validation loss']").count() == 1

    line = page.locator(".tt-artifacts [data-artifact='tiny-gpt']")
    line.wait_for()
    assert line.get_attribute("data-state") == "saved" and "KB" in line.inner_text(), line.inner_text()
    stored = page.evaluate("window.tinytorch.artifacts.get('tiny-gpt').then((r) => [r.bytes, r.data.byteLength, r.stored])")
    assert stored[0] == stored[1] and stored[2] and 50_000 < stored[0] < 1_000_000, stored

    state, reply = ask(page, PROMPT)
    assert state == "answered" and reply.startswith(PROMPT) and len(reply) > len(PROMPT) + 3, reply

    page.reload()
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")
    page.locator(".tt-artifacts [data-state='saved']").wait_for()
    assert "reached" in page.inner_text(".tt-milestone .tt-summary")
    state, reply = ask(page, PROMPT)
    assert state == "answered" and reply.startswith(PROMPT), reply


@pytest.fixture(scope="module")
def untrained_gpt(tmp_path_factory):
    """A tiny-gpt artifact as the milestone saves it (same shape and tokenizer check), with untrained weights:
    made on CPython, so the storage tests need no training in the tab."""
    package = tmp_path_factory.mktemp("package")
    assemble(package)
    config, _ = MILESTONE.config()
    with package_on_path(package):
        from tinytorch.models.transformer import GPT
        from tinytorch.text.tokenization import BPETokenizer
        from tinytorch_wasm.datasets import load_tinytalks
        tokenizer = BPETokenizer(config["gpt_vocab"]).train(load_tinytalks().train)
        shape = {"vocab_size": tokenizer.vocab_size, "embed_dim": config["gpt_width"],
                 "num_layers": config["gpt_layers"], "num_heads": config["gpt_heads"],
                 "max_seq_len": config["gpt_context"]}
        np.random.seed(0)
        weights = artifacts.state_dict(GPT(**shape))
        check = {"text": config["sample_prompt"], "ids": tokenizer.encode(config["sample_prompt"])}
    def make(loss):
        meta = {"model": shape, "validation_loss": loss, "tokenizer": {"kind": "BPETokenizer",
                "vocab_size": config["gpt_vocab"], "check": check}}
        data = artifacts.encode(weights, meta)
        return {"name": "tiny-gpt", "bytes": len(data), "meta": meta, "arrays": {},
                "data": base64.b64encode(data).decode()}
    return make


# The browser refusing to store: IndexedDB writes fail as when the disk quota is used up (while the page's flag is
# set), or IndexedDB cannot be opened at all, as when storage is disabled. With "full", reads answer late while
# window.ttSlowReads (ms) is set, as on a busy machine: a line drawn from an older read must not replace a newer one.
REFUSE = {
    "full": """
        const put = IDBObjectStore.prototype.put;
        IDBObjectStore.prototype.put = function (...args) {
          if (window.ttFailWrites) throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
          return put.apply(this, args);
        };
        const get = IDBObjectStore.prototype.get;
        const onsuccess = Object.getOwnPropertyDescriptor(IDBRequest.prototype, "onsuccess");
        IDBObjectStore.prototype.get = function (...args) {
          const request = get.apply(this, args), late = window.ttSlowReads || 0;
          Object.defineProperty(request, "onsuccess", { get: () => onsuccess.get.call(request),
            set: (handler) => onsuccess.set.call(request, (event) => setTimeout(() => handler(event), late)) });
          return request;
        };""",
    "disabled": """
        Object.defineProperty(window, "indexedDB", { get() {
          throw new DOMException("Access to storage is not allowed.", "SecurityError"); } });""",
}


@pytest.mark.parametrize("how", ["full", "disabled"])
def test_weights_the_browser_will_not_store_stay_usable_and_the_page_says_so(server, browser_profile, untrained_gpt,
                                                                            how):
    context = browser_profile()
    context.add_init_script(REFUSE[how])
    page = open_module(context, page_url(server))
    if how == "full":  # an earlier GPT is saved first; the refused write must leave it as it was
        page.evaluate("window.ttSlowReads = 2000")  # the line for it is drawn late, after the one for the next
        assert page.evaluate("p => window.tinytorch.artifacts.receive(p)", untrained_gpt(2.5)) is True
        page.evaluate("window.ttSlowReads = 0; window.ttFailWrites = true")
    assert page.evaluate("p => window.tinytorch.artifacts.receive(p)", untrained_gpt(1.5)) is False
    line = page.locator(".tt-artifacts [data-artifact='tiny-gpt'][data-state='memory']")
    line.wait_for()
    page.wait_for_timeout(2500)
    assert line.count() == 1, "a line drawn from an older read replaced the newer one"
    words = "is full" if how == "full" else "is unavailable"
    assert words in line.inner_text() and "usable on this page" in line.inner_text(), line.inner_text()
    state, reply = ask(page, PROMPT)
    assert state == "answered" and reply.startswith(PROMPT), reply
    held = page.evaluate("window.tinytorch.artifacts.get('tiny-gpt').then((r) => r.meta.validation_loss)")
    assert held == 1.5, "the page does not use the weights it was just given"

    page.evaluate("window.ttFailWrites = false")
    page.reload()
    page.wait_for_function("window.tinytorch && window.tinytorch.runtime.state === 'ready'")
    kept = page.evaluate("window.tinytorch.artifacts.get('tiny-gpt').then((r) => r ? r.meta.validation_loss : null)")
    assert kept == (2.5 if how == "full" else None), "a refused write changed what was stored before"
