"""How many BLAS threads a fit should use: speed plumbing kept beside the training loop.

One BLAS thread is faster when the largest matrix product of a batch is small (waking a second
thread costs more than it saves) and lets many runs share the cores without oversubscribing
them; large products keep the library's default.
"""

from __future__ import annotations

import contextlib

SMALL_GEMM = 4_000_000  # multiply-adds in a batch's largest product below which one thread is faster
# A convolutional network spends much of a batch outside BLAS (im2col copies, pooling) and its
# products are many and mid-sized: there a second thread mostly waits. Measured per training
# batch of 64 on 2 shared cores (load 4-5), one thread against two: configs/digits_cnn.yaml
# (largest product 19M multiply-adds) 3 against 15 ms; conv 16/32 on 28x28 (42M) 25-36 against
# 19-121 ms; conv 32/64 on 28x28 (170M) 49 against 57 ms. Two threads only beyond these sizes.
SMALL_CONV_GEMM = 256_000_000


def fit_threads(net, batch_size: int | None, n_samples: int) -> int | None:
    """1 for small layers, None (the BLAS default) otherwise."""
    bs = min(batch_size or n_samples, n_samples)
    widest = max((layer.macs() for layer in net.layers), default=0)
    conv = any(layer.kind == "conv2d" for layer in net.layers)
    return 1 if bs * widest < (SMALL_CONV_GEMM if conv else SMALL_GEMM) else None


@contextlib.contextmanager
def limit(threads: int | None):
    """Run the block with at most ``threads`` BLAS threads (None: leave the default)."""
    if threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(threads, user_api="blas"):
        yield
