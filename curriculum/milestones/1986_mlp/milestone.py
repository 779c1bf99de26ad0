"""1986: a multi-layer perceptron trained by backpropagation reads handwritten digits.

Everything here is yours: Linear and ReLU, CrossEntropyLoss, TensorDataset and DataLoader, autograd, Adam and the
Trainer that runs the epochs. The digits are TinyDigits: 8x8 grey images, flattened to 64 numbers, 1000 for
training and 200 the network never trains on, which measure whether it learned digits or memorised images.
"""
import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import no_grad
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import Trainer
from tinytorch.data.loader import DataLoader, TensorDataset
from tinytorch_wasm import plot
from tinytorch_wasm.datasets import load_tinydigits

EPOCHS, BATCH, HIDDEN, LR, SEED = 10, 32, 64, 0.01, 1986


def accuracy(model, x, y):
    """Measured here, not by your Trainer: the fraction of images whose highest score is the right digit."""
    with no_grad():  # no backward follows: record no graph
        return float(np.mean(model(Tensor(x)).data.argmax(axis=1) == y))


def run(report):
    digits = load_tinydigits(flatten=True)  # x: (N, 64) floats in [0, 1], y: (N,) class ids 0-9
    train_loader = DataLoader(TensorDataset(digits.x_train, digits.y_train), batch_size=BATCH, shuffle=True, seed=SEED)

    np.random.seed(SEED)  # your Linear layers draw their starting weights from np.random
    model = Sequential(Linear(64, HIDDEN), ReLU(), Linear(HIDDEN, 10))
    trainer = Trainer(model, Adam(model.parameters(), lr=LR), CrossEntropyLoss())

    losses, train_accs, test_accs = [], [], []
    for epoch in range(1, EPOCHS + 1):
        loss = trainer.train_epoch(train_loader)  # one pass over the 1000 training digits, one Adam step per batch
        train_acc = accuracy(model, digits.x_train, digits.y_train)
        test_acc = accuracy(model, digits.x_test, digits.y_test)
        report.progress(epoch, EPOCHS, loss=loss, train_accuracy=train_acc, test_accuracy=test_acc)
        print(f"epoch {epoch:2d}: loss {loss:.3f}, train accuracy {train_acc:.1%}, test accuracy {test_acc:.1%}")

        losses.append(loss)
        train_accs.append(train_acc)
        test_accs.append(test_acc)
        epochs = range(1, epoch + 1)
        plot.line(epochs, {"train": losses}, title="MLP on TinyDigits: loss", xlabel="epoch", ylabel="cross-entropy")
        plot.line(epochs, {"train": train_accs, "test": test_accs},
                  title="MLP on TinyDigits: accuracy", xlabel="epoch", ylabel="accuracy")
    return test_acc
