"""Optimizers by name; learning-rate schedules are in ``nncli.nn.schedules``."""

from __future__ import annotations

from nncli.nn.optim.adam import AdaBound, Adam, AdamW, AMSGrad, NAdam, RAdam
from nncli.nn.optim.adaptive import Adagrad, RMSprop
from nncli.nn.optim.base import Lookahead, Optimizer
from nncli.nn.optim.sgd import SGD, Momentum, Nesterov
from nncli.nn.optim.swats import SWATS
from nncli.nn.registry import lookup

OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "amsgrad": AMSGrad,
    "nadam": NAdam,
    "radam": RAdam,
    "adabound": AdaBound,
    "swats": SWATS,
}


def make_optimizer(name: str, params, *, lookahead: dict | None = None, **hyper):
    """``OPTIMIZERS[name](params, **hyper)``, wrapped in Lookahead(**lookahead) when given.

    ``params`` is a Network (or a ``(params, grads)`` pair of arrays). A keyword the
    optimizer does not take raises TypeError: nothing is dropped silently.
    """
    opt = lookup(OPTIMIZERS, name, "optimizer")(params, **hyper)
    return Lookahead(opt, **lookahead) if lookahead else opt


__all__ = ["OPTIMIZERS", "Lookahead", "Optimizer", "make_optimizer", "SGD", "Momentum", "Nesterov",
           "Adagrad", "RMSprop", "Adam", "AdamW", "AMSGrad", "NAdam", "RAdam", "AdaBound", "SWATS"]
