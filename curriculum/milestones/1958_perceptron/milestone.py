"""1958: Rosenblatt's perceptron, with your Tensor and your Linear layer holding its weights.

The perceptron predicts 1 when x @ w + b > 0, else 0. After each example it nudges its weights toward the answer:
    w += lr * (y - y_hat) * x        b += lr * (y - y_hat)
so a correct guess (y - y_hat = 0) changes nothing. No gradients, no loss: just this rule.
"""
import numpy as np

from tinytorch.core.layers import Linear
from tinytorch.core.tensor import Tensor
from tinytorch_wasm import plot

EPOCHS, LR, SEED = 10, 0.1, 1958


def make_points(n_per_class=50):
    """Two Gaussian clouds in 2-D, one per class, far enough apart for a straight line to split them."""
    rng = np.random.default_rng(SEED)
    x = np.concatenate([rng.normal((1.0, 3.0), 0.6, (n_per_class, 2)),
                        rng.normal((3.0, 1.0), 0.6, (n_per_class, 2))]).astype(np.float32)
    y = np.repeat([0.0, 1.0], n_per_class).astype(np.float32)
    order = rng.permutation(len(y))  # mixed classes, so each epoch sees both kinds of mistake
    return x[order], y[order]


def predict(perceptron, x):
    """1 where your Linear layer's output x @ w + b is positive, 0 elsewhere."""
    return (perceptron(Tensor(x)).data.reshape(-1) > 0).astype(np.float32)


def draw(perceptron, x, y, epoch):
    (w1, w2), b = perceptron.weight.data.reshape(-1), float(perceptron.bias.data[0])
    name = f"boundary after epoch {epoch}" if epoch else "starting boundary (random weights)"
    # The boundary is the line w1 * x1 + w2 * x2 + b = 0. Solve it for the coordinate with the larger weight, so the
    # segment stays near the data however steep the line is (and all-zero weights draw no line).
    lines = {}
    if w2 != 0 and abs(w2) >= abs(w1):
        x1 = np.array([x[:, 0].min(), x[:, 0].max()])
        lines[name] = (x1, -(w1 * x1 + b) / w2)
    elif w1 != 0:
        x2 = np.array([x[:, 1].min(), x[:, 1].max()])
        lines[name] = (-(w2 * x2 + b) / w1, x2)
    plot.scatter({"class 0": (x[y == 0, 0], x[y == 0, 1]), "class 1": (x[y == 1, 0], x[y == 1, 1])},
                 title="Perceptron: data and decision boundary", xlabel="x1", ylabel="x2", lines=lines)


def run(report):
    x, y = make_points()
    np.random.seed(SEED)  # your Linear draws its starting weights from np.random
    perceptron = Linear(2, 1)
    draw(perceptron, x, y, epoch=0)
    accuracy = float(np.mean(predict(perceptron, x) == y))
    for epoch in range(1, EPOCHS + 1):
        mistakes = 0
        for xi, yi in zip(x, y):
            y_hat = predict(perceptron, xi[None, :])[0]
            error = yi - y_hat  # +1: should have fired, -1: should not have, 0: right
            if error != 0:
                mistakes += 1
                perceptron.weight.data += LR * error * xi.reshape(2, 1)
                perceptron.bias.data += LR * error
        accuracy = float(np.mean(predict(perceptron, x) == y))
        report.progress(epoch, EPOCHS, accuracy=accuracy, mistakes=mistakes)
        draw(perceptron, x, y, epoch)
        # Two different counts: the mistakes it made (and learned from) during the pass, the accuracy after it.
        print(f"epoch {epoch}: corrected itself on {mistakes} points while learning; "
              f"afterwards it classifies {accuracy:.0%} correctly")
        if mistakes == 0:  # a whole epoch without a mistake: the rule will never change the weights again
            break
    return accuracy
