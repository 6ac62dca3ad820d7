"""Images for a model that starts with a convolution, pooling or flatten: ``digits`` as 1x8x8
images, or an .npz whose X is (N, H, W), (N, H, W, C) or (N, C, H, W).

Images skip the column machinery (names, types, one-hot): a picture's inputs are its pixels,
in place. They share the rest with tables: labels and classes (``labels``), the split
(``splits``, so digits as images has the same test rows as digits as 64 columns), and a
scaling fitted on the training images only and saved with the run (``PixelScaler``).
Arrays inside nncli are (N, C, H, W), PyTorch's and ONNX's order.
"""

from __future__ import annotations

import math

import numpy as np

from nncli.data.labels import encode_labels, label_rows
from nncli.data.names import choice
from nncli.data.splits import assign_rows
from nncli.data.table import from_arrays
from nncli.errors import DataError

LAYOUTS = ("nhwc", "nchw")  # of a 4-D X; a 3-D X is (N, H, W), one channel
IMAGE_SCALINGS = ("standard", "minmax", "max", "none")
IMAGE_DATASETS = {"digits": (1, 8, 8)}  # named datasets whose rows are images, and their shape


def to_nchw(X: np.ndarray, layout: str, name: str, shape: tuple | None = None) -> np.ndarray:
    """X as (N, C, H, W) float64. 2-D rows are reshaped to ``shape`` (flat images, as a
    CSV-minded tool would save them) when their length matches."""
    layout = choice(layout, LAYOUTS, "data.layout")
    if X.dtype.kind not in "biuf":
        raise DataError(f"{name}: X must hold numbers, got dtype {X.dtype}")
    if X.ndim == 2 and shape is not None and X.shape[1] == math.prod(shape):
        X = X.reshape((len(X),) + tuple(shape))
    elif X.ndim == 3:
        X = X[:, None]
    elif X.ndim == 4:
        if layout == "nhwc":
            X = X.transpose(0, 3, 1, 2)
    else:
        want = f"{math.prod(shape)} columns, or " if shape is not None else ""
        raise DataError(f"{name}: X of shape {X.shape} is not a set of images; expected {want}(N, H, W), "
                        "(N, H, W, C) or (N, C, H, W) (data.layout says which of the last two)")
    X = np.asarray(X, np.float64)
    if shape is not None and X.shape[1:] != tuple(shape):
        raise DataError(f"{name}: images of shape {X.shape[1:]} (channels, height, width) read as "
                        f"data.layout {layout}; the model takes {tuple(shape)}")
    if not np.isfinite(X).all():
        i = int(np.flatnonzero(~np.isfinite(X).reshape(len(X), -1).all(axis=1))[0])
        raise DataError(f"{name}: image {i} has missing or infinite pixels; expected finite numbers")
    return X


class PixelScaler:
    """x * scale[c] + offset[c] per channel c, fitted on the training images.

    standard: each channel to zero mean and unit variance over the training pixels;
    minmax: each channel's training range to [0, 1]; max: divide every pixel by the largest
    training pixel value (255 for 8-bit images, 16 for digits); none: as they are.
    """

    def __init__(self, scaling: str = "standard"):
        self.scaling = choice(scaling, IMAGE_SCALINGS, "data.scaling")
        self.scale: np.ndarray | None = None
        self.offset: np.ndarray | None = None
        self.shape: tuple[int, ...] = ()

    def fit(self, X: np.ndarray) -> PixelScaler:
        # X: (n, C, H, W); statistics per channel over the samples and pixels
        c = X.shape[1]
        scale, offset = np.ones(c), np.zeros(c)
        if self.scaling == "standard":
            mean, std = X.mean(axis=(0, 2, 3)), X.std(axis=(0, 2, 3))
            std[std < 1e-12] = 1.0  # a constant channel is centred, not divided by ~0
            scale, offset = 1.0 / std, -mean / std
        elif self.scaling == "minmax":
            lo, hi = X.min(axis=(0, 2, 3)), X.max(axis=(0, 2, 3))
            span = np.where(hi - lo < 1e-12, 1.0, hi - lo)
            scale, offset = 1.0 / span, -lo / span
        elif self.scaling == "max":
            top = float(np.abs(X).max()) if X.size else 0.0
            scale = np.full(c, 1.0 / top if top > 0 else 1.0)
        self.scale, self.offset, self.shape = scale, offset, tuple(X.shape[1:])
        return self

    def transform(self, X: np.ndarray, dtype="float32") -> np.ndarray:
        out = np.empty(X.shape, dtype)
        np.multiply(X, self.scale[:, None, None], out=out, casting="unsafe")
        out += self.offset[:, None, None].astype(dtype)
        return out

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"img.scaling": np.array(self.scaling), "img.scale": self.scale.astype(np.float64),
                "img.offset": self.offset.astype(np.float64), "img.shape": np.array(self.shape, np.int64)}

    @classmethod
    def from_state_dict(cls, d) -> PixelScaler:
        p = cls(str(np.asarray(d["img.scaling"])[()]))
        p.scale = np.asarray(d["img.scale"], np.float64)
        p.offset = np.asarray(d["img.offset"], np.float64)
        p.shape = tuple(int(s) for s in d["img.shape"])
        if len(p.shape) != 3 or p.scale.shape != (p.shape[0],) or p.offset.shape != (p.shape[0],):
            raise DataError(f"image scaling state: shape {p.shape} with scale {p.scale.shape}")
        return p


def read_images(*, dataset: str | None, path, params: dict, seed: int, layout: str,
                shape: tuple | None = None, need_y: bool = True):
    """(images (N, C, H, W) float64, labels or None, source name, fingerprint)."""
    import hashlib

    if path is None:
        if dataset not in IMAGE_DATASETS:
            have = ", ".join(IMAGE_DATASETS)
            raise DataError(f"data.dataset: {dataset} has no images (built-in images: {have}; or an .npz "
                            "whose X is (N, H, W) or (N, H, W, C)); a model that takes images starts "
                            "model.layers with conv2d, a pooling layer or flatten")
        from nncli.data.datasets import load_named

        X, y, _ = load_named(dataset, params, seed)
        X = to_nchw(X, layout, dataset, shape or IMAGE_DATASETS[dataset])
        h = hashlib.sha256(np.ascontiguousarray(X).tobytes())
        h.update(np.ascontiguousarray(y).tobytes())
        return X, y, dataset, {"dataset": dataset, "params": dict(params), "sha256": h.hexdigest()}
    from nncli.data import files
    from nncli.data.npzfile import read_arrays

    name = str(path)
    p, kind = files.check_path(path, regular=True)
    if kind != "npz":
        raise DataError(f"{name}: images are read from an .npz file (arrays X and y), got a {kind} file")
    arrays = read_arrays(p, name, need_y=need_y)
    X = to_nchw(arrays["X"], layout, name, shape)
    y = arrays.get("y")
    if y is not None:
        if y.dtype.kind == "S":
            y = y.astype(str)
        if y.ndim not in (1, 2) or len(y) != len(X) or y.dtype.kind not in "biufU":
            raise DataError(f"{name}: y must hold one number or text label per image ({len(X)}), "
                            f"got shape {y.shape} of {y.dtype}")
    return X, y, name, files.fingerprint(p)


def label_table(source: str, y: np.ndarray):
    """A table of the label alone, for the label code shared with tables."""
    return from_arrays(source, np.zeros((len(y), 0)), [], y, "y")


def load_images(*, dataset, path, params, task, validation, test, scaling, layout, subset, seed, dtype,
                target_scaling="none", folds=None, cancel=None):
    """A split Dataset of images (see ``nncli.data.load_dataset``)."""
    from nncli.data import Dataset

    X, y, source, fingerprint = read_images(dataset=dataset, path=path, params=params, seed=seed, layout=layout)
    if subset is not None:
        X, y = X[:subset], y[:subset]
    table = label_table(source if path is not None else dataset, y)
    col, labeled = label_rows(table, "y")
    n = len(labeled)
    if n < 2:
        raise DataError(f"{source}: expected at least 2 labelled images, got {n}")
    y_all, classes, task, strat = encode_labels(table, col, labeled, task, dtype)
    rows = assign_rows(labeled, strat, validation=validation, test=test, folds=folds, seed=seed, source=source,
                       what="images")
    scaler = PixelScaler(scaling).fit(X[np.sort(rows["train"])])
    split = {k: scaler.transform(X[r], dtype) for k, r in rows.items()}
    from nncli.data.target import TargetScaler

    c, h, w = X.shape[1:]
    info = {"source": source, "rows": len(X), "rows_without_label": len(X) - n, "task": task,
            "images": [c, h, w], "features": c * h * w, "fingerprint": fingerprint}
    what = f"{len(classes)} classes" if classes is not None else "numbers"
    notes = [f"{source}: {len(X)} images of {c}x{h}x{w} (channels x height x width); label ({what}); "
             f"pixels scaled: {scaling}"]
    return Dataset(
        X_train=split["train"], y_train=y_all[rows["train"]], X_val=split["validation"],
        y_val=y_all[rows["validation"]], X_test=split["test"], y_test=y_all[rows["test"]], task=task,
        classes=classes, feature_names=[], preprocessor=scaler, source=source, encoder=None,
        target=TargetScaler(target_scaling if task == "regression" else "none").fit(y_all[rows["train"]]),
        rows=rows, fingerprint=fingerprint, info=info, notes=notes)
