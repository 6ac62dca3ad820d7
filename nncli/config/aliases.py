"""Names that scikit-learn, Keras and PyTorch users bring with them.

A value with the same meaning under another name is accepted and stored under nncli's name
(``activation: logistic`` is sigmoid). A key of another tool is refused, as every unknown key
is, but the message names nncli's key for it ("unknown key 'max_iter' (scikit-learn's name;
nncli calls it training.epochs)").
"""

from __future__ import annotations

# another tool's value -> nncli's value
ACTIVATION_ALIASES = {
    "logistic": "sigmoid",  # scikit-learn
    "linear": "identity",  # Keras
}
LOSS_ALIASES = {
    "categorical_crossentropy": "cross_entropy",  # Keras, one-hot labels: nncli takes any labels
    "sparse_categorical_crossentropy": "cross_entropy",  # Keras, integer labels
    "log_loss": "cross_entropy",  # scikit-learn
    "crossentropy": "cross_entropy",
    "binary_crossentropy": "binary_cross_entropy",  # Keras
    "mean_squared_error": "mse",  # Keras
    "squared_error": "mse",  # scikit-learn
    "mean_absolute_error": "mae",  # Keras
    "absolute_error": "mae",  # scikit-learn
    "huber_loss": "huber",
}
SCHEDULE_ALIASES = {
    "adaptive": "plateau",  # scikit-learn's learning_rate='adaptive'
}

_SKLEARN, _KERAS = "scikit-learn's name", "Keras's name"
_BOTH = "scikit-learn's and Keras's name"

# another tool's key -> (whose name it is, what nncli calls it[, a note])
FOREIGN_KEYS = {
    "learning_rate": (_KERAS, "optimizer.lr",
                      "scikit-learn's learning_rate schedules are optimizer.schedule"),
    "learning_rate_init": (_SKLEARN, "optimizer.lr"),
    "solver": (_SKLEARN, "optimizer.name"),
    "hidden_layer_sizes": (_SKLEARN, "model.hidden"),
    "units": (_KERAS, "model.hidden"),
    "max_iter": (_SKLEARN, "training.epochs"),
    "max_epochs": ("PyTorch Lightning's name", "training.epochs"),
    "num_epochs": ("a common name", "training.epochs"),
    "n_epochs": ("a common name", "training.epochs"),
    "alpha": ("scikit-learn's L2 penalty", "regularization.l2",
              "scikit-learn divides it by the batch size: l2 = alpha / batch_size"),
    "kernel_regularizer": (_KERAS, "regularization.l1 and regularization.l2"),
    "nesterovs_momentum": (_SKLEARN, "optimizer.nesterov", "with optimizer.name: sgd"),
    "beta_1": (_BOTH, "optimizer.betas", "a list [beta_1, beta_2]"),
    "beta_2": (_BOTH, "optimizer.betas", "a list [beta_1, beta_2]"),
    "epsilon": (_BOTH, "optimizer.eps"),
    "clipnorm": (_KERAS, "optimizer.clip_norm"),
    "amsgrad": ("Keras's and PyTorch's switch", "optimizer.name: amsgrad"),
    "scheduler": ("PyTorch's name", "optimizer.schedule"),
    "lr_scheduler": ("PyTorch's name", "optimizer.schedule"),
    "n_iter_no_change": (_SKLEARN, "training.early_stopping.patience"),
    "tol": (_SKLEARN, "training.early_stopping.min_delta"),
    "restore_best_weights": (_KERAS, "training.early_stopping.restore_best"),
    "validation_fraction": (_SKLEARN, "data.validation"),
    "validation_split": (_KERAS, "data.validation"),
    "random_state": (_SKLEARN, "seed"),
    "kernel_initializer": (_KERAS, "model.init"),
    "use_bias": (_KERAS, "model.bias"),
    "verbose": (_BOTH, "--quiet or --no-progress on the command line"),
}


def foreign_key(key) -> str | None:
    """The message for another tool's key, or None when it is not one."""
    if key not in FOREIGN_KEYS:
        return None
    whose, ours, *note = FOREIGN_KEYS[key]
    return f"unknown key {key!r} ({whose}; nncli calls it {ours}{''.join('; ' + n for n in note)})"
