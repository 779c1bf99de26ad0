"""1969: XOR, the problem one layer cannot solve, and the hidden layer that solves it.

Both networks are yours: your Linear, Tanh and Sigmoid, your binary cross-entropy, your autograd and your Adam.
First one Linear layer trains on the four XOR points and gets stuck (no straight line puts (0, 1) and (1, 0) on one
side and (0, 0) and (1, 1) on the other). Then the same training with a hidden layer in between.
"""
import numpy as np

from tinytorch.core.activations import Sigmoid, Tanh
from tinytorch.core.autograd import enable_autograd, no_grad
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import BinaryCrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch_wasm import plot

STEPS, LR, HIDDEN, SEED = 150, 0.1, 8, 1969
EVERY = 10  # report and redraw every EVERY steps

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
Y = np.array([[0], [1], [1], [0]], dtype=np.float32)  # 1 when exactly one input is 1


def accuracy(model, x, y):
    """Measured here: the fraction of points where the output is on the right side of 0.5."""
    with no_grad():  # no backward follows: record no graph
        return float(np.mean((model(Tensor(x)).data.reshape(-1) > 0.5) == y.reshape(-1)))


def outputs(model):
    with no_grad():
        return " ".join(f"{p:.2f}" for p in model(Tensor(X)).data.reshape(-1))


def draw_predictions(model, title):
    """What the model answers on a grid over the square: the shape of its decision region."""
    g = np.linspace(-0.25, 1.25, 16, dtype=np.float32)
    grid = np.array([(a, b) for a in g for b in g], dtype=np.float32)
    with no_grad():
        says_one = model(Tensor(grid)).data.reshape(-1) > 0.5
    ones, zeros = X[Y[:, 0] == 1], X[Y[:, 0] == 0]
    plot.scatter({"XOR = 0": (zeros[:, 0], zeros[:, 1]), "XOR = 1": (ones[:, 0], ones[:, 1])},
                 title=title, xlabel="x1", ylabel="x2",
                 background={"answers 0": (grid[~says_one, 0], grid[~says_one, 1]),
                             "answers 1": (grid[says_one, 0], grid[says_one, 1])})


def train(model, report, name, first_step, curves, prefix=""):
    """Full-batch training on the four points; returns the final accuracy. Reported as `loss` and `accuracy`
    (the milestone's metric) for the hidden network, and with a prefix for the single layer."""
    loss_fn, optimizer = BinaryCrossEntropyLoss(), Adam(model.parameters(), lr=LR)
    x, y = Tensor(X), Tensor(Y)
    for step in range(1, STEPS + 1):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()  # your autograd fills every parameter's .grad
        optimizer.step()
        if step % EVERY == 0:
            metrics = {prefix + "loss": float(loss.data), prefix + "accuracy": accuracy(model, X, Y)}
            report.progress(first_step + step, 2 * STEPS, **metrics)
            curves[name].append(float(loss.data))
            n = len(curves[name])  # draw both curves over the steps the current one has reached
            plot.line(EVERY * np.arange(1, n + 1), {k: v[:n] for k, v in curves.items() if v},
                      title="XOR: training loss", xlabel="step", ylabel="binary cross-entropy")
    return accuracy(model, X, Y)


def run(report):
    enable_autograd()  # switch on the gradients your Tensor has carried since module 01
    np.random.seed(SEED)  # your Linear layers draw their starting weights from np.random
    curves = {"one layer": [], "hidden layer": []}

    one_layer = Sequential(Linear(2, 1), Sigmoid())
    single = train(one_layer, report, "one layer", 0, curves, prefix="one_layer_")
    draw_predictions(one_layer, "XOR: one layer's answers")
    print(f"One layer: {single:.0%} of the XOR points right (outputs {outputs(one_layer)} for targets 0 1 1 0). "
          "A straight line gets at most 3 of 4; the loss is lowest when it hedges at 0.5 on all four.")

    hidden = Sequential(Linear(2, HIDDEN), Tanh(), Linear(HIDDEN, 1), Sigmoid())
    solved = train(hidden, report, "hidden layer", STEPS, curves)
    draw_predictions(hidden, "XOR: hidden layer's answers")
    print(f"Hidden layer of {HIDDEN}: {solved:.0%} of the XOR points right (outputs {outputs(hidden)}).")
    return solved
