"""NNClassifier and NNRegressor: scikit-learn estimators over nncli's core.

The parameters are an nncli config's keys in flat, scikit-learn-style names; ``fit`` validates
them through nncli's schema (``params.to_config``), builds the network, loss, optimizer and
trainer with ``nncli.build`` exactly as ``nncli train`` does, and runs the core's ``Trainer``.
Features are scaled by nncli's ``Preprocessor`` fitted on the training rows (``scaling``), as
a run does, so a fitted estimator saves as a run (``save``) that ``nncli predict`` reads.

Where scikit-learn's conventions and nncli's defaults differ, the estimator follows
scikit-learn's MLP: ``epochs=200`` and no early stopping unless asked (fit uses every row it
is given), and the float type follows X (float32 stays float32, anything else is float64).
Sample weights are relative: rescaled to mean 1 over the training rows, which keeps the loss
on its usual scale and makes an integer weight the same as repeating the row.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from nncli import blas, build
from nncli.data import Dataset
from nncli.data.encode import TableEncoder
from nncli.data.preprocess import Preprocessor
from nncli.data.target import TargetScaler
from nncli.errors import NncliError
from nncli.inference import _probabilities
from nncli.nn import Diverged
from nncli.sklearn import params as P


class _NNBase(BaseEstimator):
    _classifier = False

    def _config(self, X):
        rs = self.random_state
        seed = rs if isinstance(rs, (int, np.integer)) and rs >= 0 else \
            int(check_random_state(rs).randint(np.iinfo(np.int32).max))
        dtype = self.dtype if self.dtype is not None else (
            "float32" if np.asarray(X).dtype == np.float32 else "float64")
        return P.to_config(self.get_params(), seed, dtype, self._classifier)

    # ------------------------------------------------------------------ data
    def _check_X(self, X, reset):
        return validate_data(self, X, reset=reset, dtype=[np.float64, np.float32])

    def _weights(self, X, sample_weight):
        if sample_weight is None:
            return None
        w = _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)
        total = w.sum()
        if not total > 0:
            raise ValueError("sample_weight: expected weights with a positive sum, got all zeros")
        return w * (len(w) / total)  # mean 1: a weight of 2 counts as the row twice

    def _fit_preprocessor(self, cfg, X, w) -> Preprocessor:
        prep = Preprocessor(cfg.data.scaling, cfg.data.polynomial)
        if w is None:
            return prep.fit(X)
        # weighted statistics, so that a weight equals repetition and a zero weight removal
        prep.fit(X[w > 0])  # minmax: the range of the rows that count
        if prep.scaling == "standard":
            Z = prep._poly(X)
            mean = np.average(Z, axis=0, weights=w)
            var = np.average((Z - mean) ** 2, axis=0, weights=w)
            std = np.sqrt(var)
            n, eps = len(Z), np.finfo(np.float64).eps
            std[(var <= n * eps * var + (n * mean * eps) ** 2) | (std < 10 * eps)] = 1.0  # as StandardScaler
            prep.scale, prep.offset, prep.center, prep.mean = 1.0 / std, -mean / std, mean, mean
        return prep

    def _dataset(self, cfg, X, y, w, classes, prep=None) -> Dataset:
        """The in-memory Dataset that nncli.build expects: scaled features, targets, weights."""
        names = [str(n) for n in getattr(self, "feature_names_in_", [f"x{k}" for k in range(X.shape[1])])]
        prep = prep or self._fit_preprocessor(cfg, X, w)
        n = len(X)
        val = np.zeros(0, np.int64)
        if cfg.training.early_stopping is not None and cfg.data.validation > 0 and n >= 2:
            from sklearn.model_selection import train_test_split

            n_val = max(1, int(np.ceil(cfg.data.validation * n)))
            strat = y if self._classifier and np.bincount(y).min() >= 2 and n_val >= len(classes) else None
            _, val = train_test_split(np.arange(n), test_size=n_val, stratify=strat,
                                      random_state=cfg.seed)
        train = np.setdiff1d(np.arange(n), val)
        task = "classification" if self._classifier else "regression"
        target = TargetScaler(build.target_scaling(cfg) if task == "regression" else "none").fit(y[train])
        if task == "regression" and target.scaling == "standard" and w is not None:
            yw, ww = y[train].reshape(len(train), -1), w[train]
            target.mean = np.average(yw, axis=0, weights=ww)
            std = np.sqrt(np.average((yw - target.mean) ** 2, axis=0, weights=ww))
            target.std = np.where(std > 0, std, 1.0)
        enc = TableEncoder.numbers(names)
        dt = cfg.training.dtype
        empty = X[:0]
        return Dataset(
            X_train=prep.transform(X[train], dt), y_train=y[train], X_val=prep.transform(X[val], dt),
            y_val=y[val], X_test=prep.transform(empty, dt), y_test=y[:0], task=task,
            classes=classes, feature_names=names, preprocessor=prep, source="in memory", encoder=enc,
            target=target, rows={}, sample_weight=None if w is None else w[train].astype(dt))

    # ------------------------------------------------------------------ training
    def _build(self, cfg, ds):
        try:
            parts = build.build(cfg, ds)
        except NncliError as e:
            raise ValueError(str(e)) from None
        self.config_, self.net_, self.trainer_ = cfg, parts.net, parts.trainer
        self.prep_, self.target_, self.loss_ = ds.preprocessor, ds.target, parts.trainer.loss
        self.parts_, self.encoder_ = parts, ds.encoder
        self.head_ = {"n_out": parts.n_out, "output": parts.output, "loss": parts.loss_name}
        return parts

    def _run(self, parts, ds, epochs):
        trainer = parts.trainer
        trainer.epochs = epochs
        try:
            with blas.limit(blas.fit_threads(parts.net, trainer.batch_size, len(ds.X_train))):
                trainer.fit(ds.X_train, build.targets(parts, ds, ds.y_train), ds.X_val,
                            build.targets(parts, ds, ds.y_val), parts.sample_weight)
        except Diverged as e:
            raise ValueError(f"{e}; lower lr, or set optimizer_params={{'clip_norm': 1.0}}") from None
        self.history_ = trainer.history
        self.loss_curve_ = [row["loss"] for row in trainer.history]
        self.n_iter_ = trainer.epoch
        return self

    def _fit(self, X, y, sample_weight, classes=None, epochs=None):
        cfg = self._config(X)
        w = self._weights(X, sample_weight)
        ds = self._dataset(cfg, X, y, w, classes)
        parts = self._build(cfg, ds)
        return self._run(parts, ds, cfg.training.epochs if epochs is None else epochs)

    def _more(self, X, y, sample_weight):
        """One more epoch on (X, y) from the current state (``partial_fit``)."""
        w = self._weights(X, sample_weight)
        ds = self._dataset(self.config_, X, y, w, getattr(self, "classes_", None), prep=self.prep_)
        ds.target = self.target_
        if getattr(self, "trainer_", None) is None:  # from a saved run: a trainer around its weights
            weights = self.net_.state_dict()
            self._build(self.config_, ds)
            self._resume_state()
            self.net_.load_state_dict(weights)  # the model's (the best epoch's), not the last epoch's
            ds.target = self.target_
        trainer = self.trainer_
        trainer.stop_reason = None  # early stopping judged the last fit; each call is one epoch more
        return self._run(self.parts_, ds, trainer.epoch + 1)

    def _resume_state(self):
        """Continue a saved run where it ended: its checkpoint's optimizer state, position and
        history when it has one, else its history alone (the optimizer starts afresh)."""
        from nncli import modelfiles

        trainer = self.trainer_
        try:
            state, _ = modelfiles.load_checkpoint(self.run_dir_)
            trainer.load_state_dict(state)
            trainer.perm = None
        except (NncliError, KeyError, ValueError, TypeError):
            trainer.epoch, trainer.history = self.n_iter_, [dict(row) for row in self.history_]

    def _outputs(self, X):
        check_is_fitted(self, "net_")
        X = self._check_X(X, reset=False)
        return self.net_.predict(self.prep_.transform(X, self.net_.dtype.name))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def save(self, run_dir):
        """Write a run directory that ``nncli evaluate --data`` and ``nncli predict`` read."""
        from nncli.sklearn.runio import save

        check_is_fitted(self, "net_")
        return save(self, run_dir)


class NNClassifier(ClassifierMixin, _NNBase):
    """A feed-forward network classifier trained by nncli (softmax cross-entropy by default).

    Parameters are nncli's config keys in flat names: ``hidden`` (model.hidden), ``activation``,
    ``dropout``, ``batch_norm``, ``output``, ``init``, ``loss``, ``optimizer`` (optimizer.name),
    ``lr``, ``optimizer_params`` (the optimizer's other keys, e.g. {"beta1": 0.8}),
    ``batch_size`` (an int or "full"), ``epochs``, ``shuffle``, ``l1``, ``l2``,
    ``early_stopping`` (holds out ``validation_fraction`` and stops after ``patience`` epochs
    without improvement), ``class_weight``, ``scaling``, ``polynomial``, ``dtype`` and
    ``random_state`` (config seed).
    """

    _classifier = True

    def __init__(self, hidden=(128,), activation="relu", *, output="auto", loss="auto", optimizer="adam",
                 lr=0.001, optimizer_params=None, batch_size=200, epochs=200, shuffle=True, l1=0.0, l2=0.0,
                 dropout=0.0, batch_norm=False, init="auto", early_stopping=False, validation_fraction=0.1,
                 patience="auto", class_weight=None, scaling="standard", polynomial=1, dtype=None,
                 random_state=None):
        self.hidden, self.activation, self.output, self.loss = hidden, activation, output, loss
        self.optimizer, self.lr, self.optimizer_params = optimizer, lr, optimizer_params
        self.batch_size, self.epochs, self.shuffle, self.l1, self.l2 = batch_size, epochs, shuffle, l1, l2
        self.dropout, self.batch_norm, self.init = dropout, batch_norm, init
        self.early_stopping, self.validation_fraction, self.patience = early_stopping, validation_fraction, patience
        self.class_weight, self.scaling, self.polynomial = class_weight, scaling, polynomial
        self.dtype, self.random_state = dtype, random_state

    def _codes(self, y, classes):
        lookup = {c: i for i, c in enumerate(classes)}
        try:
            return np.array([lookup[v] for v in y.tolist()], dtype=np.int64)
        except KeyError as e:
            raise ValueError(f"y: label {e.args[0]!r} is not one of the classes {list(classes)}") from None

    def fit(self, X, y, sample_weight=None):
        """Train from fresh weights on (X, y) for ``epochs`` epochs."""
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"y: expected samples of at least 2 classes, got 1 class ({self.classes_[0]!r})")
        return self._fit(X, self._codes(y, self.classes_), sample_weight, self.classes_)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch on (X, y) from the current weights (the first call starts fresh and fits
        the scaling; ``classes`` lists every label when the first batch lacks some)."""
        first = not hasattr(self, "net_")
        X, y = validate_data(self, X, y, reset=first, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(y if classes is None else classes)
            if len(self.classes_) < 2:
                raise ValueError("classes: expected at least 2 classes for the first partial_fit")
            return self._fit(X, self._codes(y, self.classes_), sample_weight, self.classes_, epochs=1)
        return self._more(X, self._codes(y, self.classes_), sample_weight)

    def predict_proba(self, X):
        """Class probabilities, one column per ``classes_`` entry (rows sum to 1)."""
        out = self._outputs(X)  # first: an unfitted estimator raises NotFittedError
        return _probabilities(self.loss_.link(out))

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[proba.argmax(axis=1)]

    @classmethod
    def from_run(cls, run, runs_dir="runs"):
        """A fitted classifier from a saved classification run (a directory or a run name)."""
        from nncli.sklearn.runio import from_run

        return from_run(cls, run, runs_dir)


class NNRegressor(RegressorMixin, _NNBase):
    """A feed-forward network regressor trained by nncli (MSE on standardized targets by
    default; predictions in the targets' own units). Parameters as NNClassifier's, with
    ``target_scaling`` (data.target_scaling) instead of ``class_weight``."""

    def __init__(self, hidden=(128,), activation="relu", *, output="auto", loss="auto", optimizer="adam",
                 lr=0.001, optimizer_params=None, batch_size=200, epochs=200, shuffle=True, l1=0.0, l2=0.0,
                 dropout=0.0, batch_norm=False, init="auto", early_stopping=False, validation_fraction=0.1,
                 patience="auto", target_scaling="auto", scaling="standard", polynomial=1, dtype=None,
                 random_state=None):
        self.hidden, self.activation, self.output, self.loss = hidden, activation, output, loss
        self.optimizer, self.lr, self.optimizer_params = optimizer, lr, optimizer_params
        self.batch_size, self.epochs, self.shuffle, self.l1, self.l2 = batch_size, epochs, shuffle, l1, l2
        self.dropout, self.batch_norm, self.init = dropout, batch_norm, init
        self.early_stopping, self.validation_fraction, self.patience = early_stopping, validation_fraction, patience
        self.target_scaling, self.scaling, self.polynomial = target_scaling, scaling, polynomial
        self.dtype, self.random_state = dtype, random_state

    def _targets(self, X, y, reset):
        X, y = validate_data(self, X, y, reset=reset, multi_output=True, y_numeric=True,
                             dtype=[np.float64, np.float32])
        self._y_1d = getattr(self, "_y_1d", y.ndim == 1) if not reset else y.ndim == 1
        return X, np.asarray(y, np.float64).reshape(len(y), -1)

    def fit(self, X, y, sample_weight=None):
        """Train from fresh weights on (X, y) for ``epochs`` epochs (y: (n,) or (n, k))."""
        X, y = self._targets(X, y, reset=True)
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch on (X, y) from the current weights (the first call starts fresh)."""
        first = not hasattr(self, "net_")
        X, y = self._targets(X, y, reset=first)
        if first:
            return self._fit(X, y, sample_weight, epochs=1)
        return self._more(X, y, sample_weight)

    def predict(self, X):
        out = self._outputs(X)
        values = np.asarray(self.target_.inverse(out), np.float64)
        return values[:, 0] if self._y_1d else values

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @classmethod
    def from_run(cls, run, runs_dir="runs"):
        """A fitted regressor from a saved regression run (a directory or a run name)."""
        from nncli.sklearn.runio import from_run

        return from_run(cls, run, runs_dir)
