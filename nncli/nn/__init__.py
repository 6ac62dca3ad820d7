"""The numeric core: layers, activations, losses, optimizers, schedules, the network and the
training loop, in NumPy (and SciPy where a function needs it). It knows nothing of configs,
files or terminals: everything it takes is a plain value or an array.

    from nncli.nn import build_mlp, make_loss, make_optimizer, Trainer
    from nncli.nn import Network, Conv2D, MaxPool2D, Flatten, Dense  # convolutional networks
"""

from nncli.nn.activations import ACTIVATIONS, OUTPUT_HEADS, make_activation
from nncli.nn.conv import Conv2D
from nncli.nn.initializers import INITIALIZERS
from nncli.nn.layers import BatchNorm, Dense, Dropout, Flatten, Layer
from nncli.nn.losses import LOSSES, make_loss
from nncli.nn.network import Network, build_mlp
from nncli.nn.optim import OPTIMIZERS, make_optimizer
from nncli.nn.pooling import AvgPool2D, MaxPool2D
from nncli.nn.schedules import SCHEDULES, make_schedule
from nncli.nn.train import Callback, Diverged, EarlyStopping, Trainer

__all__ = ["ACTIVATIONS", "OUTPUT_HEADS", "make_activation", "INITIALIZERS", "Layer", "Dense", "Dropout",
           "BatchNorm", "Flatten", "Conv2D", "MaxPool2D", "AvgPool2D", "LOSSES", "make_loss", "Network",
           "build_mlp", "OPTIMIZERS", "make_optimizer", "SCHEDULES", "make_schedule", "Callback", "Diverged",
           "EarlyStopping", "Trainer"]
