"""What every fitted classifier in localinf offers, written once on its log-probabilities."""

import numpy as np

from .._core.checks import UNNAMED, check_labels, check_weights, encode_labels
from ..exceptions import InputError


class Classifier:
    """Base of the fitted models: predictions and losses from ``predict_log_proba``.

    A subclass supplies ``predict_log_proba(X) -> (m, K)`` (checking X) and
    ``n_classes_``, and holds its fitted parameters in ``theta_``. A model with
    ``classes_`` (the estimators: the training labels, sorted) predicts those
    labels and reads labels in its terms; one without (an autograd model) works
    on the class indices 0..K-1 themselves.
    """

    def _codes(self, y, name, n_samples):
        """Labels ``y`` as class indices 0..K-1 (through ``classes_`` when the model has them)."""
        classes = getattr(self, "classes_", None)
        if classes is None:
            return check_labels(y, name, n_samples, n_classes=self.n_classes_)[0]
        return encode_labels(y, classes, name, n_samples)

    def _labels(self, codes):
        """Class indices as the model's labels (``classes_[codes]``; the indices without ``classes_``)."""
        classes = getattr(self, "classes_", None)
        return codes if classes is None else np.asarray(classes)[codes]

    def is_fitted(self):
        """Whether the model has fitted parameters ``theta_`` (an estimator after ``fit``;
        an autograd model from the start).

        Returns
        -------
        bool
        """
        return hasattr(self, "theta_")

    @staticmethod
    def _feature_names(X):
        """The column names of a DataFrame X as strings, or None for other input."""
        cols = getattr(X, "columns", None)
        return None if cols is None else [str(c) for c in cols]

    def _set_feature_names(self, names):
        """Record ``feature_names_in_`` (a DataFrame was fitted) or remove a stale one."""
        if names is None:
            self.__dict__.pop("feature_names_in_", None)
        else:
            self.feature_names_in_ = np.asarray(names, dtype=object)

    def _names(self):
        """The training column names, against which DataFrame inputs are aligned, or
        ``UNNAMED`` when the model was fitted on an array (DataFrames are then refused)."""
        names = getattr(self, "feature_names_in_", None)
        return UNNAMED if names is None else list(names)

    def predict_proba(self, X):
        """Class probabilities at the fitted parameters.

        Parameters
        ----------
        X : array_like (m, d)
            Inputs with the training features: a DataFrame is aligned to the
            training columns by name (``feature_names_in_``), an array is
            taken in the training order.

        Returns
        -------
        ndarray (m, K)
            Rows sum to one.
        """
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """The most probable class of each row (the first one on ties).

        Parameters
        ----------
        X : array_like (m, d)
            Rows to classify.

        Returns
        -------
        ndarray (m,)
            Labels from ``classes_`` (an autograd model: class indices 0..K-1).
        """
        return self._labels(np.argmax(self.predict_log_proba(X), axis=1))

    def loss(self, X, y):
        """Per-row cross-entropy ``L(y, x) = -log P(y|x)`` at the fitted parameters.

        Parameters
        ----------
        X : array_like (m, d)
        y : array_like (m,)
            Labels from ``classes_`` (an autograd model: 0..K-1).

        Returns
        -------
        ndarray (m,)
            Non-negative; in nats.
        """
        logP = self.predict_log_proba(X)
        y = self._codes(y, "y", logP.shape[0])
        return -logP[np.arange(len(y)), y]

    def score(self, X, y, sample_weight=None):
        """Accuracy: the share of rows whose predicted class is y.

        Parameters
        ----------
        X, y : array_like (m, d) and (m,)
            Labelled rows (for instance a test set), labels as in ``loss``.
        sample_weight : array_like (m,), optional
            Frequency weights: the weighted share.

        Returns
        -------
        float
            In [0, 1].
        """
        pred = np.argmax(self.predict_log_proba(X), axis=1)
        y = self._codes(y, "y", pred.shape[0])
        w = check_weights(sample_weight, "sample_weight", pred.shape[0])
        return float(np.average(pred == y, weights=w))


def labels_text(labels):
    """Labels for a message: ``[0, 1]``, ``['a', 'b']``."""
    return str([v.item() if isinstance(v, np.generic) else v for v in np.asarray(labels).tolist()])


def check_fit_classes(classes, binary, totals=None):
    """Refuse training labels a GLM cannot be fitted on, naming them.

    Parameters
    ----------
    classes : ndarray (K,)
        The distinct labels, sorted.
    binary : bool
        Whether exactly two are needed (LogisticRegression).
    totals : ndarray (K,), optional
        Each class's total frequency weight: a class with none is refused.

    Returns
    -------
    None
    """
    K = classes.size
    if K < 2:
        raise InputError(f"y has fewer than 2 classes (only {labels_text(classes)}); a classifier "
                         "needs at least two")
    if binary and K != 2:
        raise InputError(f"y has {K} classes {labels_text(classes)}; LogisticRegression needs "
                         "exactly two: use SoftmaxRegression for K > 2")
    if totals is not None and not (totals > 0).all():
        raise InputError(f"sample_weight: class(es) {labels_text(classes[~(totals > 0)])} have "
                         "zero total weight; every class needs observations to be fitted")

