"""Logistic and softmax regression fitted exactly by Newton's method.

Both estimators minimise the penalised empirical risk

    R(theta) = (1/n) sum_i L(y_i, x_i; theta) + l2 * ||coef||^2,

with L the negative log-likelihood (cross-entropy) and the intercepts not
penalised. Influence formulas assume that ``theta_`` is the exact minimiser of
R, so the fit runs Newton's method with a backtracking line search until the
gradient of R is at round-off level, and raises rather than return a model
that did not get there.

Softmax regression uses class 0 as the reference class (its linear predictor
is fixed at 0), the parameterisation of statsmodels' ``MNLogit``; binary
logistic regression is the case K = 2.
"""

import numpy as np
import scipy.linalg as sla

from . import _multinomial as mn
from ._checks import check_labels, check_matrix, check_nonneg_float, check_positive_int
from ._risk import risk_derivatives, risk_value
from ._separation import is_separable
from .exceptions import (InputError, NotConvergedError, NotFittedError,
                         PerfectSeparationError, SingularHessianError)

# A fitted linear predictor beyond this size (probabilities within ~1e-9 of 0
# or 1) without a penalty triggers the exact separation test.
_ETA_SUSPICIOUS = 20.0


class _MultinomialLogit:
    _binary = False

    def __init__(self, l2=0.0, fit_intercept=True, tol=1e-10, max_iter=100):
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    # -- fitting ---------------------------------------------------------
    def fit(self, X, y):
        """Fit by Newton's method.

        Parameters
        ----------
        X : array_like, shape (n, d)
            Training inputs (finite).
        y : array_like, shape (n,)
            Integer labels 0..K-1; every class must occur.

        Returns
        -------
        self
        """
        l2 = check_nonneg_float(self.l2, "l2")
        tol = check_nonneg_float(self.tol, "tol")
        max_iter = check_positive_int(self.max_iter, "max_iter")
        X = check_matrix(X, "X")
        n, d = X.shape
        y, K = check_labels(y, "y", n, n_classes=2 if self._binary else None, require_all=True)
        if self._binary and K != 2:
            raise InputError("y must hold labels 0 and 1 for LogisticRegression; use SoftmaxRegression for K > 2")
        fi = bool(self.fit_intercept)
        q = d + int(fi)
        p = q * (K - 1)
        theta = np.zeros(p)

        R, grad, H, max_eta, _ = risk_derivatives(X, y, theta, K, fi, l2)
        g0 = max(float(np.max(np.abs(grad))), 1.0)
        it = 0
        while it < max_iter and np.max(np.abs(grad)) > tol * g0:
            it += 1
            step = self._newton_step(H, grad, X, y, K, fi, l2)
            dec = float(grad @ step)
            t = 1.0
            # Below round-off in R the line search cannot see progress; the
            # full Newton step is then taken (quadratic convergence region).
            tiny = dec <= 1e3 * np.finfo(float).eps * max(1.0, abs(R))
            while not tiny:  # backtracking (Armijo) line search on R
                cand = theta - t * step
                Rc = risk_value(X, y, cand, K, fi, l2)
                if Rc <= R - 1e-4 * t * dec:
                    break
                t *= 0.5
                if t < 1e-12:
                    break
            if t < 1e-12:
                break  # no descent left at this precision
            theta = theta - t * step
            R, grad, H, max_eta, _ = risk_derivatives(X, y, theta, K, fi, l2)
        if np.max(np.abs(grad)) <= tol * g0:
            # Newton converges quadratically: up to two full steps take the
            # gradient from the tolerance down to round-off level.
            for _ in range(2):
                cand = theta - self._newton_step(H, grad, X, y, K, fi, l2)
                out = risk_derivatives(X, y, cand, K, fi, l2)
                if np.linalg.norm(out[1]) >= np.linalg.norm(grad):
                    break
                theta = cand
                R, grad, H, max_eta, _ = out
        converged = bool(np.max(np.abs(grad)) <= tol * g0)
        if l2 == 0.0 and (not converged or max_eta > _ETA_SUSPICIOUS):
            self._raise_degenerate(X, y, K, fi, l2, singular=False,
                                   converged=converged)
        if not converged:
            raise NotConvergedError(
                f"Newton's method stopped after {it} iterations with max|grad R| = "
                f"{np.max(np.abs(grad)):.3e} > tol * {g0:.3g} = {tol * g0:.3e}; raise max_iter, "
                "rescale X, or add a penalty l2 > 0")
        self.theta_ = theta
        self.n_classes_ = K
        self.classes_ = np.arange(K)
        self.n_features_in_ = d
        self.n_iter_ = it
        self.grad_norm_ = float(np.linalg.norm(grad))
        self.converged_ = True
        self.n_train_ = n
        return self

    def _newton_step(self, H, grad, X, y, K, fi, l2):
        try:
            return sla.cho_solve(sla.cho_factor(H, lower=True), grad)
        except (np.linalg.LinAlgError, ValueError):
            self._raise_degenerate(X, y, K, fi, l2, singular=True)

    def _raise_degenerate(self, X, y, K, fi, l2, singular, converged=True):
        if l2 == 0.0 and X.shape[0] <= 200_000 and is_separable(mn.design(X, fi), y, K):
            raise PerfectSeparationError(
                "X, y: the classes are (quasi-)completely separable, so with l2=0 the "
                "maximum-likelihood estimate does not exist; set l2 > 0")
        if singular:
            raise SingularHessianError(
                "X: the Hessian of the risk is singular during the fit; the design matrix "
                "(with the intercept column) probably has linearly dependent columns. "
                "Drop redundant features or set l2 > 0")
        if not converged:
            raise NotConvergedError(
                "the fit did not converge; raise max_iter, rescale X, or set l2 > 0")

    # -- fitted quantities -------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "theta_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    @property
    def _q(self):
        return self.n_features_in_ + int(self.fit_intercept)

    @property
    def W_(self):
        """Parameter matrix (q, K-1): column k-1 is (coef_k, intercept_k)."""
        self._check_fitted()
        return mn.unpack(self.theta_, self.n_classes_, self._q)

    def predict_log_proba(self, X):
        """Log class probabilities, shape (m, K)."""
        self._check_fitted()
        X = check_matrix(X, "X", n_features=self.n_features_in_)
        return mn.log_proba(mn.design(X, self.fit_intercept), self.W_)

    def predict_proba(self, X):
        """Class probabilities, shape (m, K)."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X):
        """Most probable class, shape (m,)."""
        return np.argmax(self.predict_log_proba(X), axis=1)

    def loss(self, X, y):
        """Per-sample negative log-likelihood ``L(y, x; theta_)``, shape (m,)."""
        logP = self.predict_log_proba(X)
        y, _ = check_labels(y, "y", logP.shape[0], n_classes=self.n_classes_)
        return -logP[np.arange(len(y)), y]

    def risk(self, X, y):
        """Penalised empirical risk R(theta_) on (X, y)."""
        self._check_fitted()
        X = check_matrix(X, "X", n_features=self.n_features_in_)
        y, _ = check_labels(y, "y", X.shape[0], n_classes=self.n_classes_)
        return risk_value(X, y, self.theta_, self.n_classes_, self.fit_intercept, float(self.l2))

    def score(self, X, y):
        """Accuracy on (X, y)."""
        y = np.asarray(y)
        return float(np.mean(self.predict(X) == y))


class LogisticRegression(_MultinomialLogit):
    """Binary logistic regression, ``P(y=1|x) = sigmoid(x . coef + intercept)``.

    Parameters
    ----------
    l2 : float, default 0
        Ridge penalty in ``R(theta) = mean loss + l2 * ||coef||^2`` (intercept
        not penalised). With ``l2 = 0`` separable data raise
        :class:`~localinf.exceptions.PerfectSeparationError`.
    fit_intercept : bool, default True
    tol : float, default 1e-10
        Convergence when ``max|grad R| <= tol * max(1, max|grad R(0)|)``; two
        further Newton steps then bring the gradient to round-off level.
    max_iter : int, default 100

    Attributes
    ----------
    coef_ : ndarray (d,)
    intercept_ : float
    theta_ : ndarray (p,)
        ``(coef_, intercept_)``, p = d + 1 (or d without intercept).
    converged_, n_iter_, grad_norm_
        Newton diagnostics; ``grad_norm_`` is ``||grad R(theta_)||_2``.
    """

    _binary = True

    @property
    def coef_(self):
        return self.W_[:self.n_features_in_, 0].copy()

    @property
    def intercept_(self):
        return float(self.W_[-1, 0]) if self.fit_intercept else 0.0


class SoftmaxRegression(_MultinomialLogit):
    """Multinomial (softmax) regression with class 0 as reference.

    ``P(c|x) = exp(eta_c) / sum_k exp(eta_k)`` with ``eta_0 = 0`` and
    ``eta_c = x . coef_[c-1] + intercept_[c-1]`` for c = 1..K-1, as in
    statsmodels' ``MNLogit``. Parameters, penalty and attributes as in
    :class:`LogisticRegression`, with ``coef_`` of shape (K-1, d),
    ``intercept_`` of shape (K-1,) and ``theta_`` of length p = (K-1) q
    stacked class by class.
    """

    @property
    def coef_(self):
        return self.W_[:self.n_features_in_].T.copy()

    @property
    def intercept_(self):
        if not self.fit_intercept:
            return np.zeros(self.n_classes_ - 1)
        return self.W_[-1].copy()
