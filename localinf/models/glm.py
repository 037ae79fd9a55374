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

from .._core.checks import check_labels, check_matrix, check_nonneg_float, check_positive_int
from ..exceptions import (InputError, NotConvergedError, NotFittedError,
                          PerfectSeparationError, SingularHessianError)
from . import multinomial as mn
from .classifier import Classifier
from .glm_risk import risk_derivatives, risk_value
from .newton import newton_minimise
from .separation import is_separable

# A fitted linear predictor beyond this size (probabilities within ~1e-9 of 0
# or 1) without a penalty triggers the exact separation test.
_ETA_SUSPICIOUS = 20.0


class MultinomialLogit(Classifier):
    """Base of :class:`LogisticRegression` and :class:`SoftmaxRegression` (the shared fit).

    Parameters
    ----------
    l2 : float, default 0
        Ridge penalty ``l2 * ||coef||^2`` in the risk (intercepts not penalised).
    fit_intercept : bool, default True
    tol : float, default 1e-10
        Newton stops when ``max|grad R| <= tol * max(1, max|grad R(0)|)``.
    max_iter : int, default 100
    """

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
        fit_intercept = bool(self.fit_intercept)
        p = (d + int(fit_intercept)) * (K - 1)
        derivatives = lambda th: risk_derivatives(X, y, th, K, fit_intercept, l2)
        value = lambda th: risk_value(X, y, th, K, fit_intercept, l2)
        solve = lambda H, g: self._newton_step(H, g, X, y, K, fit_intercept, l2)
        start = derivatives(np.zeros(p))
        g0 = max(float(np.max(np.abs(start[1]))), 1.0)
        # Newton converges quadratically: once the tolerance is met, up to two
        # full steps take the gradient down to round-off level.
        theta, state, it = newton_minimise(derivatives, value, np.zeros(p), gtol=tol * g0,
                                           max_iter=max_iter, solve=solve, min_step=1e-12,
                                           state=start, final_steps=2)
        R, grad, H, max_eta, _ = state
        converged = bool(np.max(np.abs(grad)) <= tol * g0)
        if l2 == 0.0 and (not converged or max_eta > _ETA_SUSPICIOUS):
            self._raise_degenerate(X, y, K, fit_intercept, l2, singular=False, converged=converged)
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

    def _newton_step(self, H, grad, X, y, K, fit_intercept, l2):
        try:
            return sla.cho_solve(sla.cho_factor(H, lower=True), grad)
        except (np.linalg.LinAlgError, ValueError):
            self._raise_degenerate(X, y, K, fit_intercept, l2, singular=True)

    def _raise_degenerate(self, X, y, K, fit_intercept, l2, singular, converged=True):
        if l2 == 0.0 and X.shape[0] <= 200_000 and is_separable(mn.design(X, fit_intercept), y, K):
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
        if not self.is_fitted():
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
        """Log class probabilities, computed stably.

        Parameters
        ----------
        X : array_like (m, d)
            Inputs with the training columns.

        Returns
        -------
        ndarray (m, K)
        """
        self._check_fitted()
        X = check_matrix(X, "X", n_features=self.n_features_in_)
        return mn.log_proba(mn.design(X, self.fit_intercept), self.W_)

    def risk(self, X, y):
        """Penalised empirical risk ``R(theta_) = mean loss + l2 ||coef||^2`` on (X, y).

        Parameters
        ----------
        X : array_like (m, d)
            Inputs; on the training data this is the objective of ``fit``.
        y : array_like (m,)

        Returns
        -------
        float
            The quantity the fit minimises (on the training data).
        """
        self._check_fitted()
        X = check_matrix(X, "X", n_features=self.n_features_in_)
        y, _ = check_labels(y, "y", X.shape[0], n_classes=self.n_classes_)
        return risk_value(X, y, self.theta_, self.n_classes_, self.fit_intercept, float(self.l2))


class LogisticRegression(MultinomialLogit):
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


class SoftmaxRegression(MultinomialLogit):
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
