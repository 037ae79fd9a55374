"""What every fitted classifier in localinf offers, written once on its log-probabilities."""

import numpy as np

from .._core.checks import UNNAMED, check_labels


class Classifier:
    """Base of the fitted models: predictions and losses from ``predict_log_proba``.

    A subclass supplies ``predict_log_proba(X) -> (m, K)`` (checking X) and
    ``n_classes_``, and holds its fitted parameters in ``theta_``.
    """

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
        ndarray of int (m,)
            Class indices 0..K-1.
        """
        return np.argmax(self.predict_log_proba(X), axis=1)

    def loss(self, X, y):
        """Per-row cross-entropy ``L(y, x) = -log P(y|x)`` at the fitted parameters.

        Parameters
        ----------
        X : array_like (m, d)
        y : array_like (m,)
            Labels 0..K-1.

        Returns
        -------
        ndarray (m,)
            Non-negative; in nats.
        """
        logP = self.predict_log_proba(X)
        y, _ = check_labels(y, "y", logP.shape[0], n_classes=self.n_classes_)
        return -logP[np.arange(len(y)), y]

    def score(self, X, y):
        """Accuracy: the share of rows whose predicted class is y.

        Parameters
        ----------
        X, y : array_like (m, d) and (m,)
            Labelled rows (for instance a test set).

        Returns
        -------
        float
            In [0, 1].
        """
        pred = self.predict(X)
        y, _ = check_labels(y, "y", pred.shape[0], n_classes=self.n_classes_)
        return float(np.mean(pred == y))
