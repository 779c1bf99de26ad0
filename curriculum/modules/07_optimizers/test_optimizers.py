"""Tests for module 07 (Optimizers). Expected values are worked out by hand from the update rules (the working is
in the comments), never taken from a reference implementation."""
import numpy as np
import pytest

from tinytorch.core.autograd import enable_autograd
from tinytorch.core.optimizers import SGD, Adam, AdamW, Optimizer
from tinytorch.core.tensor import Tensor

enable_autograd()  # the last test trains with real gradients from backward()


def param(values, grad=None):
    """A parameter holding `values`, with `grad` already in .grad (as backward() would leave it)."""
    p = Tensor(np.array(values, dtype=np.float32), requires_grad=True)
    if grad is not None:
        p.grad = Tensor(np.array(grad, dtype=np.float32))
    return p


def values(p):
    assert p.data.dtype == np.float32, f"the parameter's data became {p.data.dtype}: keep it float32"
    return np.asarray(p.data, dtype=np.float64)


# --- 7.1 the Optimizer base ------------------------------------------------------------------------------------

@pytest.mark.exercise("7.1")
def test_zero_grad_clears_every_gradient():
    a, b = param([1.0, 2.0], grad=[0.5, 0.5]), param([[3.0]], grad=[[1.0]])
    opt = SGD([a, b], lr=0.1)
    opt.zero_grad()
    for p in (a, b):
        assert p.grad is None or not np.any(p.grad.data), "zero_grad() should leave every .grad None (or zeros)"


@pytest.mark.exercise("7.1")
def test_parameters_from_a_generator_are_all_kept():
    a, b = param([1.0], grad=[1.0]), param([2.0], grad=[1.0])
    opt = SGD((p for p in [a, b]), lr=0.5)  # a generator can be walked only once
    opt.step()
    opt.step()
    assert np.allclose(values(a), [0.0]) and np.allclose(values(b), [1.0]), (
        "two SGD steps of lr 0.5 on gradient 1 should move each parameter by 1: keep params as a list, a "
        "generator is empty the second time round")
    assert len(opt.params) == 2, f"opt.params should list the 2 parameters, got {len(opt.params)}"


@pytest.mark.exercise("7.1")
def test_no_parameters_is_an_error():
    with pytest.raises(ValueError):
        SGD([], lr=0.1)


@pytest.mark.exercise("7.1")
@pytest.mark.parametrize("make", [
    lambda ps: SGD(ps, lr=0.1),
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda ps: Adam(ps, lr=0.1),
    lambda ps: AdamW(ps, lr=0.1),
], ids=["sgd", "sgd-momentum-decay", "adam", "adamw"])
def test_parameters_without_gradient_are_skipped(make):
    used, unused = param([1.0, 1.0], grad=[1.0, 1.0]), param([5.0, -5.0])
    opt = make([unused, used])
    opt.step()
    assert np.allclose(values(unused), [5.0, -5.0]), (
        f"{type(opt).__name__} changed a parameter whose .grad is None (it took no part in the loss): skip it")
    assert np.all(values(used) < 1.0), f"{type(opt).__name__} should still update the parameters that have gradients"


# --- 7.2 SGD -----------------------------------------------------------------------------------------------------

@pytest.mark.exercise("7.2")
def test_sgd_plain_step():
    p = param([1.0, -2.0], grad=[0.5, -1.0])
    SGD([p], lr=0.1).step()
    assert np.allclose(values(p), [0.95, -1.9]), (  # 1 - 0.1 * 0.5, -2 - 0.1 * -1
        f"p - lr * grad should give [0.95, -1.9], got {p.data.tolist()}")


@pytest.mark.exercise("7.2")
def test_sgd_updates_data_in_place_and_reads_lr_each_step():
    p = param([1.0], grad=[1.0])
    data = p.data
    opt = SGD([p], lr=0.1)
    opt.step()
    opt.lr = 0.5  # what a learning-rate schedule does between steps
    opt.step()
    assert np.allclose(values(p), [0.4]), f"1 - 0.1 - 0.5 = 0.4 (the second step uses the new lr), got {p.data}"
    assert p.data is data, "update p.data in place (p.data -= ...), keeping the same array"


@pytest.mark.exercise("7.2")
def test_sgd_momentum_over_two_steps():
    p = param([1.0])
    opt = SGD([p], lr=0.1, momentum=0.9)
    p.grad = Tensor([1.0])
    opt.step()   # v = 1,                  p = 1 - 0.1 * 1 = 0.9
    assert np.allclose(values(p), [0.9]), f"the first momentum step is a plain SGD step: expected 0.9, got {p.data}"
    p.grad = Tensor([-0.5])
    opt.step()   # v = 0.9 * 1 - 0.5 = 0.4, p = 0.9 - 0.1 * 0.4 = 0.86
    assert np.allclose(values(p), [0.86]), (
        f"second step: v = 0.9 * 1 + (-0.5) = 0.4, so p = 0.9 - 0.04 = 0.86; got {p.data.tolist()}")


@pytest.mark.exercise("7.2")
def test_sgd_weight_decay_leaves_the_gradient_alone():
    p = param([2.0], grad=[0.5])
    SGD([p], lr=0.1, weight_decay=0.1).step()   # g = 0.5 + 0.1 * 2 = 0.7, p = 2 - 0.07 = 1.93
    assert np.allclose(values(p), [1.93]), f"weight decay adds weight_decay * p to the gradient: expected 1.93, got {p.data}"
    assert np.allclose(p.grad.data, [0.5]), "weight decay must not change the gradient stored in p.grad"


@pytest.mark.exercise("7.2")
def test_sgd_state_memory():
    ps = [param(np.zeros((10, 20))), param(np.zeros(20))]
    param_bytes = sum(p.memory_footprint() for p in ps)
    assert SGD(ps, lr=0.1).memory_footprint() == 0, "plain SGD keeps no state"
    assert SGD(ps, lr=0.1, momentum=0.9).memory_footprint() == param_bytes, (
        "SGD with momentum keeps one float32 velocity per weight: as many bytes as the parameters")


# --- 7.3 Adam ------------------------------------------------------------------------------------------------------

@pytest.mark.exercise("7.3")
def test_adam_first_step_is_lr_times_sign():
    p = param([1.0, 1.0, 1.0], grad=[0.5, -3.0, 1e-3])
    Adam([p], lr=0.1).step()
    # step 1: m = 0.1 g, v = 0.001 g^2; bias correction gives m_hat = g, v_hat = g^2, so the step is lr * g / |g|
    assert np.allclose(values(p), [0.9, 1.1, 0.9], atol=1e-5), (
        f"Adam's first step should move every weight by lr whatever the gradient's size, got {p.data.tolist()}: "
        "divide m by (1 - beta1**t) and v by (1 - beta2**t), with t = 1 on the first step")


@pytest.mark.exercise("7.3")
def test_adam_second_step_by_hand():
    p = param([1.0])
    opt = Adam([p], lr=0.1)
    p.grad = Tensor([0.5])
    opt.step()        # p = 0.9 (see the first-step test)
    p.grad = Tensor([0.1])
    opt.step()
    # m = 0.9 * 0.05 + 0.1 * 0.1 = 0.055            m_hat = 0.055 / (1 - 0.9**2)       = 0.2894737
    # v = 0.999 * 0.00025 + 0.001 * 0.01 = 0.00025975 v_hat = 0.00025975 / (1 - 0.999**2) = 0.1299400
    # p = 0.9 - 0.1 * 0.2894737 / sqrt(0.1299400) = 0.9 - 0.0803041 = 0.8196959
    assert np.allclose(values(p), [0.8196959], atol=1e-5), (
        f"after gradients 0.5 then 0.1, Adam (lr 0.1) should reach 0.8196959, got {p.data.tolist()}; "
        "check the moment updates and that t counts steps (1, then 2)")


@pytest.mark.exercise("7.3")
def test_adam_l2_weight_decay_and_state_memory():
    p = param([2.0], grad=[0.5])
    opt = Adam([p], lr=0.1, weight_decay=0.1)   # g = 0.5 + 0.1 * 2 = 0.7: still a first step of -lr
    opt.step()
    assert np.allclose(values(p), [1.9], atol=1e-5), f"expected 2 - 0.1 = 1.9, got {p.data.tolist()}"
    ps = [param(np.zeros((10, 20))), param(np.zeros(20))]
    param_bytes = sum(q.memory_footprint() for q in ps)
    assert Adam(ps).memory_footprint() == 2 * param_bytes, (
        "Adam keeps two float32 arrays (m and v) per parameter: twice the parameters' bytes")


# --- 7.4 AdamW ------------------------------------------------------------------------------------------------------

@pytest.mark.exercise("7.4")
def test_adamw_decays_the_weight_directly():
    p = param([2.0], grad=[0.5])
    AdamW([p], lr=0.1, weight_decay=0.1).step()
    # decay: 2 - 0.1 * 0.1 * 2 = 1.98, then Adam's first step of -lr: 1.88 (Adam's L2 version gives 1.9)
    assert np.allclose(values(p), [1.88], atol=1e-5), (
        f"AdamW: shrink p by lr * weight_decay * p, then take the Adam step with the plain gradient; "
        f"expected 1.88, got {p.data.tolist()}")


@pytest.mark.exercise("7.4")
def test_adamw_decays_even_with_zero_gradient():
    p = param([1.0, -3.0], grad=[0.0, 0.0])
    opt = AdamW([p], lr=0.1, weight_decay=0.5)
    opt.step()  # Adam's step is 0 / (0 + eps) = 0; the decay multiplies by 1 - 0.1 * 0.5 = 0.95
    assert np.allclose(values(p), [0.95, -2.85], atol=1e-6), (
        f"with zero gradient AdamW should still shrink the weights by 5%, got {p.data.tolist()}")
    assert AdamW([param([1.0])]).weight_decay == 0.01, "AdamW's default weight_decay is 0.01"


# --- all together: real gradients from backward() --------------------------------------------------------------

@pytest.mark.parametrize("make", [
    pytest.param(lambda ps: SGD(ps, lr=0.1, momentum=0.9), marks=pytest.mark.exercise("7.2"), id="sgd-momentum"),
    pytest.param(lambda ps: Adam(ps, lr=0.1), marks=pytest.mark.exercise("7.3"), id="adam"),
    pytest.param(lambda ps: AdamW(ps, lr=0.1, weight_decay=0.0), marks=pytest.mark.exercise("7.4"), id="adamw"),
])
def test_optimizer_minimises_a_quadratic_with_backward(make):
    target = np.array([3.0, -1.0, 0.5], dtype=np.float32)
    w = Tensor(np.zeros(3), requires_grad=True)
    opt = make([w])
    for _ in range(150):
        opt.zero_grad()
        diff = w - Tensor(target)
        (diff * diff).sum().backward()
        opt.step()
    assert np.allclose(values(w), target, atol=0.05), (
        f"{type(opt).__name__} should drive w to the minimum {target.tolist()} of sum((w - target)**2) in 150 steps, "
        f"reached {np.round(w.data, 3).tolist()}: check zero_grad() and the sign of the update")
