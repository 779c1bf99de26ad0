"""1998: LeCun's convolutional network, small, on the same digits the 1986 MLP read.

The CNN is yours from end to end: Conv2d, ReLU, MaxPool2d and Flatten (module 09) feed a Linear layer; your
CrossEntropyLoss, autograd, Adam, DataLoader and Trainer train it. Beside it, on the same batches, the 1986 MLP
trains too, so the two test-accuracy curves can be compared epoch by epoch. Accuracy is counted here, as whole
images right out of 200 (in float32, 196 / 200 can land a hair below 0.98).
"""
import numpy as np

from tinytorch.core.activations import ReLU
from tinytorch.core.autograd import enable_autograd, no_grad
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.spatial import Conv2d, Flatten, MaxPool2d
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import CosineSchedule, Trainer
from tinytorch.data.loader import DataLoader, TensorDataset
from tinytorch_wasm import plot
from tinytorch_wasm.datasets import load_tinydigits

EPOCHS, BATCH, SEED = 12, 32, 1998
MAX_LR, MIN_LR = 0.02, 0.0005  # a cosine schedule: large steps first, then settling into a minimum
FILTERS = 16  # 3x3 filters in the one convolution


def make_cnn():
    """8x8 digit -> 16 maps of 8x8 (3x3 filters, padding 1) -> ReLU -> 16 maps of 4x4 (max-pool 2) -> 10 scores."""
    return Sequential(Conv2d(1, FILTERS, kernel_size=3, padding=1), ReLU(), MaxPool2d(2), Flatten(),
                      Linear(FILTERS * 4 * 4, 10))


def make_mlp():
    """The 1986 network: the 64 pixels in a row, 64 hidden units, 10 scores."""
    return Sequential(Flatten(), Linear(64, 64), ReLU(), Linear(64, 10))


def count_correct(model, x, y):
    """Whole test images classified right, counted as an integer."""
    model.eval()
    with no_grad():  # no backward follows: record no graph
        predictions = model(Tensor(x)).data.argmax(axis=1)
    return int(np.sum(predictions == y))


def check_the_convolution_learns(cnn, x, y):
    """One probe backward before training. Random 3x3 filters feeding a trained Linear layer already read these
    digits almost as well as learned ones, so accuracy alone cannot show that gradients reach your Conv2d: check
    that they do, and stop with a clear message if they do not."""
    conv = cnn.layers[0]
    conv.weight.grad = None
    CrossEntropyLoss()(cnn(Tensor(x)), y).backward()
    grad = conv.weight.grad
    for p in cnn.parameters():
        p.grad = None  # leave no trace for the training that follows
    if grad is None or not np.any(grad.data):
        raise RuntimeError(
            "your Conv2d's weight got " + ("no gradient" if grad is None else "an all-zero gradient") + " from "
            "backward(): its filters would never learn, and the accuracy would be the Linear layer's alone, on random "
            "filters. Check that Conv2d.forward records Conv2dBackward and that its apply returns the weight's "
            "gradient (module 09's tests, exercise 9.3).")


def parameter_count(model):
    return sum(p.size for p in model.parameters())


def draw_filters(conv):
    filters = conv.weight.data[:, 0]  # (16, 3, 3): what each filter looks for in the one grey channel
    plot.images("First-layer filters", list(filters), labels=[f"filter {i}" for i in range(len(filters))])


def draw_feature_maps(cnn, image, label):
    """One test digit and what each filter's map (after the ReLU) makes of it."""
    conv, relu = cnn.layers[0], cnn.layers[1]
    with no_grad():
        maps = relu(conv(Tensor(image[None]))).data[0]
    plot.images(f"Feature maps of a test digit ({label})", [image[0]] + list(maps),
                labels=["the digit"] + [f"map {i}" for i in range(len(maps))])


def run(report):
    enable_autograd()  # switch on the gradients your Tensor has carried since module 01
    digits = load_tinydigits()  # x: (N, 8, 8) floats in [0, 1], y: (N,) class ids 0-9
    x_train, x_test = digits.x_train[:, None], digits.x_test[:, None]  # one channel: (N, 1, 8, 8)
    y_test, n_test = digits.y_test, len(digits.y_test)
    loader = DataLoader(TensorDataset(x_train, digits.y_train), batch_size=BATCH, shuffle=True, seed=SEED)

    np.random.seed(SEED)  # your layers draw their starting weights from np.random
    cnn, mlp = make_cnn(), make_mlp()
    check_the_convolution_learns(cnn, x_train[:BATCH], digits.y_train[:BATCH])
    print(f"CNN: {parameter_count(cnn):,} parameters; MLP: {parameter_count(mlp):,} parameters")
    cnn_trainer, mlp_trainer = (Trainer(model, Adam(model.parameters(), lr=MAX_LR), CrossEntropyLoss(),
                                        scheduler=CosineSchedule(MAX_LR, MIN_LR, EPOCHS)) for model in (cnn, mlp))
    draw_filters(cnn.layers[0])

    curves = {"CNN": [], "MLP (1986)": []}
    losses = {"CNN": [], "MLP (1986)": []}
    for epoch in range(1, EPOCHS + 1):
        batches = list(loader)  # one shuffled epoch, the same batches for both networks
        for name, trainer in [("MLP (1986)", mlp_trainer), ("CNN", cnn_trainer)]:
            losses[name].append(trainer.train_epoch(batches))
            curves[name].append(count_correct(trainer.model, x_test, y_test))
        cnn_right, mlp_right = curves["CNN"][-1], curves["MLP (1986)"][-1]
        report.progress(epoch, EPOCHS, loss=losses["CNN"][-1], test_accuracy=cnn_right / n_test,
                        mlp_test_accuracy=mlp_right / n_test)
        print(f"epoch {epoch:2d}: CNN loss {losses['CNN'][-1]:.3f}, test {cnn_right}/{n_test}   "
              f"MLP loss {losses['MLP (1986)'][-1]:.3f}, test {mlp_right}/{n_test}")
        epochs = range(1, epoch + 1)
        plot.line(epochs, {k: [c / n_test for c in v] for k, v in curves.items()},
                  title="Test accuracy: CNN against MLP", xlabel="epoch", ylabel="accuracy on 200 unseen digits")
        plot.line(epochs, losses, title="Training loss", xlabel="epoch", ylabel="cross-entropy")
        draw_filters(cnn.layers[0])

    image_index = int(np.argmax(y_test == 3))  # the first 3 of the test set
    draw_feature_maps(cnn, x_test[image_index], f"a {y_test[image_index]}")
    print(f"CNN {cnn_right}/{n_test} = {cnn_right / n_test:.1%} with {parameter_count(cnn):,} parameters; "
          f"MLP {mlp_right}/{n_test} = {mlp_right / n_test:.1%} with {parameter_count(mlp):,}")
    return cnn_right / n_test
