"""The names a config may choose: activations, output heads, losses, optimizers, schedules,
initializations and built-in datasets.

The numeric core (``nncli.nn``) keeps a registry for each of the first six and
tests/test_architecture.py checks that they agree; the config keeps its own copy so that
reading a config never imports numpy. The activation, output, loss, init and dataset fields
are made from these tuples (other tools' names for them are in ``aliases.py``); the optimizer
and schedule sections are chosen by the keys of ``OPTIMIZER_MODELS`` and ``SCHEDULE_MODELS``
in ``optimizers.py``, which the same test holds equal to these names.
"""

ACTIVATION_NAMES = ("identity", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu",
                    "softplus", "gelu", "maxout")
OUTPUT_NAMES = ("auto", "softmax", "sigmoid", "identity")
LOSS_NAMES = ("cross_entropy", "binary_cross_entropy", "mse", "mae", "sse", "huber")
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
                   "amsgrad", "nadam", "radam", "adabound", "swats")
SCHEDULE_NAMES = ("constant", "step", "exponential", "invscaling", "cosine", "plateau")
INIT_NAMES = ("he_normal", "he_uniform", "xavier_normal", "xavier_uniform", "lecun_normal",
              "lecun_uniform", "normal", "kaiming_normal", "kaiming_uniform", "glorot_normal",
              "glorot_uniform")
DATASET_NAMES = ("digits", "iris", "wine", "breast_cancer", "diabetes", "make_classification",
                 "make_regression", "make_moons", "make_circles", "make_blobs")
