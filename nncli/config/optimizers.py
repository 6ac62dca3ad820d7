"""The optimizer and learning-rate schedule sections: one model per name, each mirroring its
class's constructor in ``nncli.nn`` (same keys, same defaults: a test checks)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import BeforeValidator, Field, field_validator, model_validator

from nncli.config.aliases import SCHEDULE_ALIASES
from nncli.config.fields import (
    Rate,
    _by_name,
    _check_pair,
    _Choice,
    _float,
    _int,
    _raise,
    _renamed,
    _Section,
    _shorthand,
)


class LookaheadConfig(_Section):
    """Lookahead wrapper: slow weights follow the fast ones every k steps."""

    k: int = _int(5, "Fast steps between slow-weight updates (>= 1).", ge=1)
    alpha: float = _float(0.5, "Slow-weight step size, in (0, 1].", gt=0, le=1)


# ---- learning-rate schedules: one section per schedule, mirroring nncli.nn.schedules
class _Schedule(_Choice):
    """Learning-rate schedule, applied once per epoch."""


class ConstantSchedule(_Schedule):
    """The learning rate stays at optimizer.lr."""

    name: Literal["constant"] = Field("constant", description="The schedule: constant.")


class StepSchedule(_Schedule):
    """lr = lr0 * gamma ** (epoch // step_size)."""

    name: Literal["step"] = Field("step", description="The schedule: step.")
    step_size: int = _int(1, "Epochs between decays (>= 1).", ge=1)
    gamma: float = _float(0.1, "lr *= gamma every step_size epochs, in (0, 1].", gt=0, le=1)


class ExponentialSchedule(_Schedule):
    """lr = lr0 * gamma ** epoch."""

    name: Literal["exponential"] = Field("exponential", description="The schedule: exponential.")
    gamma: float = _float(0.95, "lr *= gamma every epoch, in (0, 1].", gt=0, le=1)


class InvScalingSchedule(_Schedule):
    """lr = lr0 / (epoch + 1) ** power_t (scikit-learn's invscaling)."""

    name: Literal["invscaling"] = Field("invscaling", description="The schedule: invscaling.")
    power_t: float = _float(0.5, "Exponent of the inverse scaling (>= 0).", ge=0)


class CosineSchedule(_Schedule):
    """Linear warm-up, then a half cosine from lr0 down to min_lr at the last epoch."""

    name: Literal["cosine"] = Field("cosine", description="The schedule: cosine.")
    warmup: int = _int(0, "Linear warm-up epochs (>= 0).", ge=0)
    min_lr: float = _float(0.0, "Lowest learning rate (>= 0).", ge=0)


class PlateauSchedule(_Schedule):
    """Cut the rate when the monitored loss stops improving (scikit-learn's adaptive)."""

    name: Literal["plateau"] = Field("plateau", description="The schedule: plateau.")
    patience: int = _int(2, "Epochs without improvement before cutting (>= 0).", ge=0)
    factor: float = _float(0.2, "lr *= factor at each cut, in (0, 1).", gt=0, lt=1)
    threshold: float = _float(1e-4, "Smallest decrease of the loss that counts as improvement (>= 0).", ge=0)
    min_lr: float = _float(0.0, "Lowest learning rate (>= 0).", ge=0)


SCHEDULE_MODELS: dict[str, type[_Schedule]] = {
    "constant": ConstantSchedule, "step": StepSchedule, "exponential": ExponentialSchedule,
    "invscaling": InvScalingSchedule, "cosine": CosineSchedule, "plateau": PlateauSchedule}
ScheduleConfig = Annotated[_by_name(SCHEDULE_MODELS, "constant"),
                           _shorthand("constant", off="constant"), _renamed(SCHEDULE_ALIASES)]


# ---- optimizers: one section per optimizer, mirroring nncli.nn.optim's constructors
def _lr(default: float) -> Any:
    return _float(default, "Learning rate (> 0).", gt=0)


def _weight_decay(default: float = 0.0) -> Any:
    return _float(default, "L2 penalty in the update (>= 0): added to the gradient, or decoupled for "
                           "adamw (as in PyTorch).", ge=0)


def _momentum(default: float) -> Any:
    return _float(default, "Momentum: v <- momentum v + g, in [0, 1).", ge=0, lt=1)


def _eps(default: float) -> Any:
    return _float(default, "Added to the denominator for stability (> 0).", gt=0)


Betas = Annotated[tuple[Rate, Rate], BeforeValidator(_check_pair)]
_BETAS = Field((0.9, 0.999), description="Decay rates of the first and second moment averages.")


class _Optimizer(_Choice):
    """The update rule and its hyper-parameters."""

    lookahead: Optional[LookaheadConfig] = Field(
        None, description="Wrap the optimizer in Lookahead (null: off).")
    clip_norm: Optional[float] = _float(None, "Clip the global gradient norm to this value (> 0).", gt=0)
    schedule: ScheduleConfig = Field(default_factory=ConstantSchedule, description="Learning-rate schedule.")

    @field_validator("lookahead", mode="before")
    @classmethod
    def _lookahead_shorthand(cls, value: Any) -> Any:
        return {} if value is True else (None if value is False else value)


class SGDConfig(_Optimizer):
    """Stochastic gradient descent: p <- p - lr v, v <- momentum v + g (PyTorch's SGD)."""

    name: Literal["sgd"] = Field("sgd", description="The optimizer: sgd.")
    lr: float = _lr(1e-3)
    momentum: float = _momentum(0.0)
    nesterov: bool = Field(False, strict=True, description="Nesterov momentum (needs momentum > 0).")
    weight_decay: float = _weight_decay()

    @model_validator(mode="after")
    def _check(self) -> SGDConfig:
        if self.nesterov and self.momentum == 0:
            _raise("SGDConfig", [("nesterov", "expected momentum > 0 with nesterov: true, got momentum 0",
                                  self.nesterov)])
        return self


class MomentumConfig(_Optimizer):
    """SGD with momentum (the notes' SGDM)."""

    name: Literal["momentum"] = Field("momentum", description="The optimizer: momentum.")
    lr: float = _lr(1e-3)
    momentum: float = _momentum(0.9)
    weight_decay: float = _weight_decay()


class NesterovConfig(_Optimizer):
    """SGD with Nesterov momentum (the notes' NAG)."""

    name: Literal["nesterov"] = Field("nesterov", description="The optimizer: nesterov.")
    lr: float = _lr(1e-3)
    momentum: float = _momentum(0.9)
    weight_decay: float = _weight_decay()


class AdagradConfig(_Optimizer):
    """AdaGrad: steps scaled by the root of the summed squared gradients."""

    name: Literal["adagrad"] = Field("adagrad", description="The optimizer: adagrad.")
    lr: float = _lr(1e-2)
    eps: float = _eps(1e-10)
    weight_decay: float = _weight_decay()


class RMSpropConfig(_Optimizer):
    """RMSprop: steps scaled by the root of a running average of squared gradients."""

    name: Literal["rmsprop"] = Field("rmsprop", description="The optimizer: rmsprop.")
    lr: float = _lr(1e-2)
    rho: float = _float(0.99, "Decay of the squared-gradient average, in [0, 1) (PyTorch's alpha).",
                        ge=0, lt=1)
    eps: float = _eps(1e-8)
    weight_decay: float = _weight_decay()


class AdamConfig(_Optimizer):
    """Adam."""

    name: Literal["adam"] = Field("adam", description="The optimizer: adam.")
    lr: float = _lr(1e-3)
    betas: Betas = _BETAS
    eps: float = _eps(1e-8)
    weight_decay: float = _weight_decay()


class AdamWConfig(AdamConfig):
    """Adam with decoupled weight decay."""

    name: Literal["adamw"] = Field("adamw", description="The optimizer: adamw.")
    weight_decay: float = _weight_decay(1e-2)


class AMSGradConfig(AdamConfig):
    """Adam with the running maximum of the second moment."""

    name: Literal["amsgrad"] = Field("amsgrad", description="The optimizer: amsgrad.")


class NAdamConfig(AdamConfig):
    """Adam with Nesterov momentum."""

    name: Literal["nadam"] = Field("nadam", description="The optimizer: nadam.")
    lr: float = _lr(2e-3)
    momentum_decay: float = _float(4e-3, "Momentum schedule's decay psi (>= 0).", ge=0)


class RAdamConfig(AdamConfig):
    """Rectified Adam."""

    name: Literal["radam"] = Field("radam", description="The optimizer: radam.")


class AdaBoundConfig(AdamConfig):
    """Adam whose steps are clipped into bounds that close in on SGD's final_lr."""

    name: Literal["adabound"] = Field("adabound", description="The optimizer: adabound.")
    final_lr: float = _float(0.1, "The final SGD learning rate the bounds converge to (> 0).", gt=0)
    gamma: float = _float(1e-3, "Speed at which the bounds close in (> 0).", gt=0)


class SWATSConfig(_Optimizer):
    """Adam that switches to SGD, with a learned rate, once the projected SGD rate settles."""

    name: Literal["swats"] = Field("swats", description="The optimizer: swats.")
    lr: float = _lr(1e-3)
    betas: Betas = _BETAS
    eps: float = _eps(1e-9)
    weight_decay: float = _weight_decay()
    switch_tol: float = _float(1e-3, "Switch to SGD once the projected SGD rate is within this fraction of "
                                     "its running average (>= 0; 0 never switches).", ge=0)


OPTIMIZER_MODELS: dict[str, type[_Optimizer]] = {
    "sgd": SGDConfig, "momentum": MomentumConfig, "nesterov": NesterovConfig,
    "adagrad": AdagradConfig, "rmsprop": RMSpropConfig, "adam": AdamConfig, "adamw": AdamWConfig,
    "amsgrad": AMSGradConfig, "nadam": NAdamConfig, "radam": RAdamConfig, "adabound": AdaBoundConfig,
    "swats": SWATSConfig}
OptimizerConfig = Annotated[_by_name(OPTIMIZER_MODELS, "adam"), _shorthand("adam")]
