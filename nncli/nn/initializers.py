"""Weight initializers: each draws a (fan_in, fan_out) matrix from the given generator.

Biases always start at zero (see ``Dense.init_params``).
"""

from __future__ import annotations

import math

# Each takes (rng, fan_in, fan_out, shape, scale) and returns float64 samples.
def _he_normal(rng, fan_in, fan_out, shape, scale):
    return rng.normal(0.0, math.sqrt(2.0 / fan_in), shape)


def _he_uniform(rng, fan_in, fan_out, shape, scale):
    limit = math.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, shape)


def _xavier_normal(rng, fan_in, fan_out, shape, scale):
    return rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), shape)


def _xavier_uniform(rng, fan_in, fan_out, shape, scale):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape)


def _lecun_normal(rng, fan_in, fan_out, shape, scale):
    return rng.normal(0.0, math.sqrt(1.0 / fan_in), shape)


def _lecun_uniform(rng, fan_in, fan_out, shape, scale):
    limit = math.sqrt(3.0 / fan_in)
    return rng.uniform(-limit, limit, shape)


def _small_normal(rng, fan_in, fan_out, shape, scale):
    # the notes' plain start: N(0, scale^2) with a small scale such as 0.01
    return rng.normal(0.0, scale, shape)


INITIALIZERS = {
    "he_normal": _he_normal,
    "he_uniform": _he_uniform,
    "xavier_normal": _xavier_normal,
    "xavier_uniform": _xavier_uniform,
    "lecun_normal": _lecun_normal,
    "lecun_uniform": _lecun_uniform,
    "normal": _small_normal,
}
# the same schemes under the names PyTorch (Kaiming He) and Keras (Xavier Glorot) use
INITIALIZERS.update(kaiming_normal=_he_normal, kaiming_uniform=_he_uniform,
                    glorot_normal=_xavier_normal, glorot_uniform=_xavier_uniform)

DEFAULT_INIT = "xavier_uniform"  # Keras's and scikit-learn's default for every activation
