"""Logistic and softmax regression fitted exactly by Newton's method.

Both estimators minimise the penalised empirical risk

    R(theta) = (1/n) sum_i L(y_i, x_i; theta) + l2 * ||coef||^2,

with L the negative log-likelihood (cross-entropy) and the intercepts not
penalised. Influence formulas assume that ``theta_`` is the exact minimiser of
R, so the fit runs Newton's method with a backtracking line search until the
gradient of R is small and the Newton step would no longer change the
predictions (then on to round-off level), and raises rather than return a
model that did not get there. A step costs one pass over X for R and its
(always exact) gradient; the Hessian, several passes' worth, is kept for as
long as it serves, and on large data the ones far from the minimiser are
Hessians of a subsample of the rows and the one near it has its products in
single precision (see :class:`~localinf.models.newton.FrozenNewton`).

Softmax regression uses class 0 as the reference class (its linear predictor
is fixed at 0), the parameterisation of statsmodels' ``MNLogit``; binary
logistic regression is the case K = 2.
"""

import numpy as np
import scipy.linalg as sla
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_limits

from .._core.budget import check_cost
from .._core.checks import (check_bool, check_matrix, check_nonneg_float, check_positive_int,
                            check_weights, class_labels, raise_nonfinite)
from ..exceptions import (InputError, NotConvergedError, NotFittedError,
                          PerfectSeparationError, SingularHessianError)
from . import multinomial as mn
from .classifier import Classifier, check_fit_classes
from .dask_data import is_dask_collection
from .glm_dask import fit_dask
from .glm_risk import (ETA_SUSPICIOUS, FINAL_STEPS, GTOL_EXACT, SEPARATION_MAX_N, default_chunk,
                       fit_passes, keep_rule, risk_value, step_bound)
from .newton import FrozenNewton, predictive_change
from .separation import is_separable

# An unconverged fit's message gives H's condition number up to this many parameters.
_COND_MAX_P = 2000


def _separable(X, y, K, fit_intercept):
    """Whether the exact test finds (quasi-)separation (False above SEPARATION_MAX_N rows)."""
    return X.shape[0] <= SEPARATION_MAX_N and is_separable(mn.design(X, fit_intercept), y, K)


class MultinomialLogit(Classifier, ClassifierMixin, BaseEstimator):
    """Base of :class:`LogisticRegression` and :class:`SoftmaxRegression` (the shared fit).

    A scikit-learn estimator: ``get_params``/``set_params``, ``sklearn.base.clone``,
    pipelines and cross-validation work; labels of any type are kept in ``classes_``
    (sorted as ``numpy.unique`` sorts them) and coded 0..K-1 by their position
    there, ``classes_[0]`` being the reference class. ``predict`` returns labels
    from ``classes_``, the columns of ``predict_proba`` follow it, and ``loss``,
    ``score`` and ``risk`` take labels in the same terms. Localinf's own
    ``score`` (accuracy, inputs checked) comes first in the method order.

    Parameters
    ----------
    l2 : float, default 0
        Ridge penalty ``l2 * ||coef||^2`` in the risk (intercepts not penalised).
    fit_intercept : bool, default True
    tol : float, default 1e-10
        Gradient test: ``max|grad R| <= tol * max(1, max|grad R(0)|)``.
    max_iter : int, default 100
        Line-searched steps in all; a fit that has not passed both tests by then is refused.
    step_tol : float, default 1e-8
        Step test: the Newton step ``H^{-1} grad R`` would change no training
        log-probability ``log P(c|x_i)`` by more than ``step_tol``.

    Notes
    -----
    Stopping rule: Newton's method (with a backtracking line search) stops
    only when both the gradient test and the step test pass. The gradient
    alone is not enough: where R is flat (nearly separable classes and a tiny
    penalty) it is tiny far from the minimiser, while the Newton step, the
    distance to the minimiser of R's quadratic model, is not. The step is
    measured by its effect on the predicted probabilities, to which influence
    values are sensitive in proportion, so the test does not depend on the
    scale of the features. A few further full steps then take the gradient
    to round-off level: they end once a step no longer lowers ``||grad R||``
    or, on large problems (those fitted with subsample Hessians first), once
    every entry of grad R is within its round-off bound, ``eps`` times the
    sum of the absolute values of its terms.

    A fit that does not pass both tests within ``max_iter`` steps is refused:
    :class:`~localinf.exceptions.PerfectSeparationError` when the classes are
    (quasi-)separable (the minimiser is far out on a flat risk; at l2 below
    about 1e-10 round-off in grad R can keep the step above ``step_tol``) with
    the remedy: a larger l2 or dropping the separating feature; otherwise
    :class:`~localinf.exceptions.NotConvergedError`, with H's condition number.
    A fit that passes is returned even when H is ill-conditioned (the
    predictions are then still accurate): :class:`~localinf.LocalInfluence`
    refuses such a model with a SingularHessianError when
    ``lambda_min(H) / lambda_max(H) <= 1e-12``, as ``H^{-1}`` and hence the
    influence values are not reliable there.
    """

    _binary = False

    def __init__(self, l2=0.0, fit_intercept=True, tol=1e-10, max_iter=100, step_tol=1e-8):
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter
        self.step_tol = step_tol

    # -- fitting ---------------------------------------------------------
    def fit(self, X, y, sample_weight=None):
        """Fit by Newton's method.

        Parameters
        ----------
        X : array_like, shape (n, d)
            Training inputs (finite). A dask array or dask DataFrame (with y
            and sample_weight in the same row blocks) is fitted block by block,
            one pass over the data per Newton step (:func:`~localinf.models.glm_dask.fit_dask`).
        y : array_like, shape (n,)
            Class labels of any hashable type (integers, strings, bools, ...;
            integer-valued floats count as integers): ``classes_`` becomes
            their sorted distinct values, ``classes_[0]`` the reference class.
            LogisticRegression needs exactly two. Integer labels 0..K-1 give
            ``classes_ = arange(K)``.
        sample_weight : array_like (n,), optional
            Frequency weights w_i >= 0 (row i stands for w_i identical
            observations): the risk is ``(1/N) sum_i w_i L_i + l2 ||coef||^2``
            with ``N = sum_i w_i``. Integer weights give the fit of the data
            with each row repeated w_i times.

        Returns
        -------
        self
        """
        if is_dask_collection(X) or is_dask_collection(y) or is_dask_collection(sample_weight):
            return fit_dask(self, X, y, sample_weight)  # larger than memory: passes over blocks
        names = self._feature_names(X)
        X = check_matrix(X, "X", finite=False)  # NaN and inf are found by the fit's first pass
        classes, y = class_labels(y, "y", X.shape[0])
        K = classes.size
        check_fit_classes(classes, self._binary)
        w = check_weights(sample_weight, "sample_weight", X.shape[0])
        if w is not None:
            check_fit_classes(classes, self._binary, np.bincount(y, weights=w, minlength=K))
        self._fit_arrays(X, y, K, w)
        self.classes_ = classes
        self._set_feature_names(names)
        return self

    def _fit_arrays(self, X, y, K, w, theta0=None):
        """The fit on checked arrays (labels coded 0..K-1, weights or None), from ``theta0``
        (default 0). ``classes_`` is kept when it has K entries (a refit of the same
        classes), else set to ``arange(K)``; ``fit`` then sets the labels.

        The passes over X are matrix-vector products on row chunks, bound by memory
        bandwidth: they run on one BLAS thread, as several threads gain little on them
        and lose much (they wait on each other) when the cores are shared."""
        with threadpool_limits(limits=1, user_api="blas"):
            return self._minimise(X, y, K, w, theta0)

    def _settings(self):
        """The checked ``(l2, tol, step_tol, max_iter, fit_intercept)`` (also for the dask fit)."""
        return (check_nonneg_float(self.l2, "l2"), check_nonneg_float(self.tol, "tol"),
                check_nonneg_float(self.step_tol, "step_tol"),
                check_positive_int(self.max_iter, "max_iter"),
                check_bool(self.fit_intercept, "fit_intercept"))

    def _minimise(self, X, y, K, w, theta0):
        l2, tol, step_tol, max_iter, fit_intercept = self._settings()
        n, d = X.shape
        q = d + int(fit_intercept)
        p = q * (K - 1)
        # H (p, p), its factor and a (chunk, K - 1, K - 1) block; about ten Newton steps,
        # each forming H (n q^2 (K-1)^2) and factoring it (p^3 / 3).
        check_cost(f"fitting {type(self).__name__} ({n} rows, {p} parameters, {K} classes)",
                   "use fewer classes or features, or a network fitted by L-BFGS (fit_mlp)",
                   nbytes=8.0 * (3 * p * p + default_chunk(p, K) * (K - 1) * max(K - 1, q)),
                   flops=10.0 * (2.0 * n * q * q * (K - 1) ** 2 + p ** 3 / 3))
        # One pass per step gives R and grad R; a Hessian (another pass, or a part of
        # one) is formed only when the one in use stops serving (see FrozenNewton).
        evaluate, approximate = fit_passes(X, y, K, fit_intercept, l2, w)
        # the separation test sees the observations: rows of weight 0 are absent (a
        # copy of X, made only when a test or an error needs it)
        seen = lambda: (X, y) if w is None else (X[w > 0], y[w > 0])
        degenerate = lambda singular: self._raise_degenerate(*seen(), K, fit_intercept, l2, singular)
        factor = lambda H, exact: self._factor(H, exact, degenerate)
        kind = False if theta0 is not None else "coarse" if approximate else "exact"
        with np.errstate(invalid="ignore", over="ignore"):  # a NaN/inf in X is reported below
            start = evaluate(np.zeros(p), kind, max_row_norm=True)
        if not np.isfinite(start[5]):  # a row's sum of squares is NaN or inf with a NaN or inf in it
            raise_nonfinite(X, "X")
        log_proba_at = lambda th, Xc: mn.log_proba(mn.design(Xc, fit_intercept), mn.unpack(th, K, q))
        moved = lambda th, step: predictive_change(log_proba_at, th, step, X, default_chunk(p, K))
        bound = step_bound(K, q, start[5])
        g0 = max(float(np.max(np.abs(start[1]))), 1.0)
        opt = FrozenNewton(evaluate, factor, np.zeros(p) if theta0 is None else theta0,
                           state=start if kind else None, kind=kind, approximate=approximate,
                           gtol_exact=GTOL_EXACT * g0, single=approximate is not None,
                           keep=keep_rule(approximate is not None))
        kw = dict(gtol=tol * g0, min_step=1e-12)
        # Steps until the gradient is small. Without a penalty a large linear
        # predictor there is tested for separation (no minimiser) first.
        it = opt.run(max_iter=max_iter, **kw)
        tested = l2 == 0.0 and opt.state[3] > ETA_SUSPICIOUS
        if tested:
            degenerate(False)
        # Then on until the Newton step is negligible too: where R is flat (nearly
        # separable classes, a tiny penalty) the gradient is tiny far from the
        # minimiser. A few more full steps then take the gradient to round-off level; on
        # large problems they end once each entry is within its round-off bound.
        it += opt.run(max_iter=max_iter - it, size=moved, bound=bound, step_tol=step_tol,
                      final_steps=FINAL_STEPS, roundoff=approximate is not None, **kw)
        theta = opt.theta
        grad, max_eta = opt.state[1], opt.state[3]
        gmax = float(np.max(np.abs(grad)))
        change = opt.step_size(moved, bound, step_tol)
        converged = gmax <= tol * g0 and change <= step_tol
        if l2 == 0.0 and not tested and (not converged or max_eta > ETA_SUSPICIOUS):
            degenerate(False)
        if not converged:
            opt.refresh()  # the message gives the condition number of H at theta
            self._refuse(*seen(), K, fit_intercept, l2, opt.H, dict(
                it=it, max_iter=max_iter, gmax=gmax, gtol=tol * g0, change=change, step_tol=step_tol))
        self.theta_ = theta
        self.l2_, self.fit_intercept_ = l2, fit_intercept  # the settings theta_ was fitted with
        self.n_classes_ = K
        if len(getattr(self, "classes_", ())) != K:
            self.classes_ = np.arange(K)
        self.n_features_in_ = d
        self.n_iter_ = it
        self.grad_norm_ = float(np.linalg.norm(grad))
        self.converged_ = True
        self.n_train_ = n
        return self

    @staticmethod
    def _factor(H, exact, degenerate):
        """``g -> H^{-1} g`` by a Cholesky factor of H; without one, None for an
        approximation of the Hessian and ``degenerate(True)`` (the error saying
        why) for the exact one."""
        try:
            cho = sla.cho_factor(H, lower=True)
        except (np.linalg.LinAlgError, ValueError):
            if not exact:
                return None
            degenerate(True)
        return lambda g: sla.cho_solve(cho, g)

    def _raise_degenerate(self, X, y, K, fit_intercept, l2, singular):
        if l2 == 0.0 and _separable(X, y, K, fit_intercept):
            raise PerfectSeparationError(
                "X, y: the classes are (quasi-)completely separable, so with l2=0 the "
                "maximum-likelihood estimate does not exist; set l2 > 0 or drop the "
                "separating feature")
        if singular:
            raise SingularHessianError(
                "X: the Hessian of the risk is singular during the fit; the design matrix "
                "(with the intercept column) probably has linearly dependent columns. "
                "Drop redundant features or set l2 > 0")

    def _refuse(self, X, y, K, fit_intercept, l2, H, at):
        """Raise the error saying why theta is not the minimiser, and what to do.

        ``at`` holds the stop: it, max_iter, gmax, gtol, change, step_tol.
        """
        stop = f"Newton's method stopped after {at['it']} iterations (max_iter={at['max_iter']})"
        if at["gmax"] > at["gtol"]:
            why = f"max|grad R| = {at['gmax']:.2e} > tol * max(1, max|grad R(0)|) = {at['gtol']:.2e}"
        else:
            why = (f"max|grad R| = {at['gmax']:.2e} is small, but the Newton step H^-1 grad R would "
                   f"still change a training log-probability by {at['change']:.1e} > step_tol = "
                   f"{at['step_tol']:.1e}, so theta is not the minimiser yet")
        more = (" Raise max_iter if the fit was still making progress;"
                if at["it"] >= at["max_iter"] else "")
        loosen = " loosen step_tol only if influence values accurate to about step_tol will do"
        if l2 > 0.0 and _separable(X, y, K, fit_intercept):
            raise PerfectSeparationError(
                f"X, y: the classes are (quasi-)completely separable, so with l2={l2:g} the "
                "minimiser lies far out, where the risk is nearly flat and the fitted "
                f"probabilities are within round-off of 0 and 1. {stop}; {why}. Set a larger l2 "
                f"or drop the separating feature.{more}{loosen}")
        cond = ""
        if H.shape[0] <= _COND_MAX_P:
            lam = np.linalg.eigvalsh(H)
            cond = f" The Hessian of R has condition number {lam[-1] / lam[0]:.1e}." if lam[0] > 0 else ""
        penalty = 'l2 > 0' if l2 == 0.0 else 'a larger l2'
        advice = f" Set {penalty}, drop nearly collinear features, or rescale X.{more}{loosen}"
        if at["it"] >= at["max_iter"]:  # out of steps: more steps first, the rest if they do not help
            advice = (" Raise max_iter (it counts line-searched steps, including those that reuse "
                      f"a kept Hessian); if the fit still stalls, set {penalty}, drop nearly "
                      f"collinear features or rescale X;{loosen}")
        raise NotConvergedError(f"{stop}; {why}.{cond}{advice}")

    # -- scikit-learn ----------------------------------------------------------
    def __sklearn_is_fitted__(self):
        return self.is_fitted()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()  # ClassifierMixin's: a classifier, y required
        tags.classifier_tags.multi_class = not self._binary
        return tags

    # -- fitted quantities -------------------------------------------------
    def _check_fitted(self):
        if not self.is_fitted():
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    @property
    def _q(self):
        return self.n_features_in_ + int(self.fit_intercept_)

    @property
    def W_(self):
        """Parameter matrix (q, K-1): column k-1 is (coef_k, intercept_k)."""
        return mn.unpack(self.checked_theta(), self.n_classes_, self._q)

    def checked_theta(self):
        """``theta_`` after checking it is fitted, finite and of length p = q (K - 1)
        (parameters set by hand are checked before they are used).

        Returns
        -------
        ndarray (p,)
        """
        self._check_fitted()
        theta, p = np.asarray(self.theta_), self._q * (self.n_classes_ - 1)
        if theta.shape != (p,) or theta.dtype.kind != "f" or not np.isfinite(theta).all():
            raise InputError(f"theta_ must be {p} finite floats ((d + intercept) x (K - 1)); got "
                             f"shape {theta.shape}, dtype {theta.dtype}")
        return theta

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
        X = check_matrix(X, "X", n_features=self.n_features_in_, feature_names=self._names())
        return mn.log_proba(mn.design(X, self.fit_intercept_), self.W_)

    def risk(self, X, y, sample_weight=None):
        """Penalised empirical risk ``R(theta_) = mean loss + l2 ||coef||^2`` on (X, y).

        Parameters
        ----------
        X : array_like (m, d)
            Inputs; on the training data this is the objective of ``fit``.
        y : array_like (m,)
            Labels from ``classes_``.
        sample_weight : array_like (m,), optional
            Frequency weights: the mean loss is then ``sum_i w_i L_i / sum_i w_i``.

        Returns
        -------
        float
            The quantity the fit minimises (on the training data).
        """
        self._check_fitted()
        X = check_matrix(X, "X", n_features=self.n_features_in_, feature_names=self._names())
        y = self._codes(y, "y", X.shape[0])
        w = check_weights(sample_weight, "sample_weight", X.shape[0])
        return risk_value(X, y, self.checked_theta(), self.n_classes_, self.fit_intercept_, self.l2_,
                          weights=w)


class LogisticRegression(MultinomialLogit):
    """Binary logistic regression, ``P(y=1|x) = sigmoid(x . coef + intercept)``.

    Parameters
    ----------
    l2 : float, default 0
        Ridge penalty in ``R(theta) = mean loss + l2 * ||coef||^2`` (intercept
        not penalised). With ``l2 = 0`` separable data raise
        :class:`~localinf.exceptions.PerfectSeparationError`; so does a tiny
        l2 on separable data when the fit cannot reach the minimiser.
    fit_intercept : bool, default True
    tol : float, default 1e-10
        Gradient test: ``max|grad R| <= tol * max(1, max|grad R(0)|)``.
    max_iter : int, default 100
        Line-searched steps in all; a fit that has not passed both tests by then is refused.
    step_tol : float, default 1e-8
        Step test: the Newton step ``H^{-1} grad R`` would change no training
        log-probability by more than ``step_tol``. Newton's method stops only
        when both tests pass (a small gradient alone does not place theta near
        the minimiser of a flat risk), and a few further full steps then bring
        the gradient to round-off level. See :class:`MultinomialLogit` for the
        errors raised, and for ill-conditioned Hessians.

    Attributes
    ----------
    classes_ : ndarray (2,)
        The training labels, sorted: ``classes_[1]`` is the class whose
        probability ``sigmoid(...)`` is, ``classes_[0]`` the reference.
    coef_ : ndarray (d,)
    intercept_ : float
    theta_ : ndarray (p,)
        ``(coef_, intercept_)``, p = d + 1 (or d without intercept).
    converged_, n_iter_, grad_norm_
        Newton diagnostics; ``grad_norm_`` is ``||grad R(theta_)||_2``.
    l2_, fit_intercept_
        The settings ``theta_`` was fitted with: predictions, the risk and
        influence use these, so changing ``l2`` or ``fit_intercept`` after
        ``fit`` takes effect at the next ``fit`` only.
    """

    _binary = True

    @property
    def coef_(self):
        return self.W_[:self.n_features_in_, 0].copy()

    @property
    def intercept_(self):
        return float(self.W_[-1, 0]) if self.fit_intercept_ else 0.0


class SoftmaxRegression(MultinomialLogit):
    """Multinomial (softmax) regression with class 0 as reference.

    ``P(c|x) = exp(eta_c) / sum_k exp(eta_k)`` with ``eta_0 = 0`` and
    ``eta_c = x . coef_[c-1] + intercept_[c-1]`` for c = 1..K-1, as in
    statsmodels' ``MNLogit``; class c is ``classes_[c]`` (the sorted training
    labels). Parameters, penalty and attributes as in
    :class:`LogisticRegression`, with ``coef_`` of shape (K-1, d),
    ``intercept_`` of shape (K-1,) and ``theta_`` of length p = (K-1) q
    stacked class by class.
    """

    @property
    def coef_(self):
        return self.W_[:self.n_features_in_].T.copy()

    @property
    def intercept_(self):
        if not self.fit_intercept_:
            return np.zeros(self.n_classes_ - 1)
        return self.W_[-1].copy()
