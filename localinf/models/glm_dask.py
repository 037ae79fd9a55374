"""Fitting logistic and softmax regression on dask collections, about one pass per Newton step.

The fit is the in-memory one (:mod:`.glm`): the same Newton iteration
(:class:`.newton.FrozenNewton`: a factored matrix is kept while it serves,
Hessians of every ``_STRIDE``-th row stand in for H far from the minimiser on
large problems, exact ones near it), the same two stopping tests (gradient
and Newton step), the same refusals (separation, singular Hessian, no
convergence). Only where the sums over rows come from differs: each block of
rows contributes its share of the risk, its gradient and, when asked, its
Hessian (:func:`.glm_risk.risk_terms` on the block), and dask adds the shares
in a tree.

Each pass computes, besides what the iteration asked for, what it will ask
next when that is predictable, so that one pass serves one Newton iteration:
the step test (how far the step s moves the training log-probabilities)
comes with the value and gradient at ``theta - s``, which the iteration needs
next whatever the test says; the full step comes with the subsample's Hessian
there while those are in use, and, while the line search is shortening steps
(at the start, or after a short step), with the shorter step lengths
``theta - s/2`` and ``theta - s/4``. Answers are kept by their exact
parameters, so the iteration takes the same decisions as in memory.
"""

import numpy as np

from .._core.checks import class_labels
from ..exceptions import InputError
from . import multinomial as mn
from .classifier import check_fit_classes
from .dask_data import DaskRows, block_arrays, merge_sums, run_pass
from .glm_risk import (_ROWS_PER_PARAMETER, _STRIDE, ETA_SUSPICIOUS, FINAL_STEPS, GTOL_EXACT,
                       SEPARATION_MAX_N, default_chunk, keep_rule, risk_terms, step_bound)
from .newton import FrozenNewton, predictive_change

# Shorter step lengths evaluated with the full Newton step, for the line search.
_SPECULATIVE_STEPS = (0.5, 0.25)
_MIN_STEP = 1e-12
_EPS = np.finfo(float).eps


def _scan_block(spec, Xb, yb, wb, block):
    """The first pass: finite inputs, the labels present and their weights, sizes."""
    X, y, w, _ = block_arrays(spec, Xb, yb, wb, block, check=True)
    m = X.shape[0]
    classes, codes = class_labels(y, f"y (block {block})", m) if m else (np.zeros(0, y.dtype), y)
    weights = np.ones(m) if w is None else w
    return dict(counts={block: m}, classes=classes,
                totals=np.bincount(codes, weights=weights, minlength=classes.size),
                N=float(weights.sum()), n_pos=int((weights > 0).sum()),
                ones=int((weights == 1.0).sum()),
                max_x=float(np.max(np.abs(X))) if X.size else 0.0,
                max_sq=float(np.max(np.einsum("ij,ij->i", X, X))) if X.size else 0.0)


def risk_block(spec, Xb, yb, wb, block, classes, K, fit_intercept, points, change, approx=(),
               offsets=None, roundoff=False):
    """Partial sums of one block for a Newton pass (unnormalised, without the penalty).

    Parameters
    ----------
    spec : tuple
    Xb, yb, wb : the block's data
    block : int
    classes : ndarray (K,)
    K : int
    fit_intercept : bool
    points : list of (ndarray (p,), bool)
        Parameters at which to sum the loss and its gradient, and whether the
        Hessian too.
    change : tuple (theta, step) or None
        Parameters and Newton step whose effect on the predictions to measure.
    approx : list of ndarray (p,)
        Parameters at which to sum the Hessian of every ``_STRIDE``-th row of the
        training set (global positions 0, _STRIDE, ...: the in-memory fit's subsample).
    offsets : ndarray of int (nblocks + 1,), optional
        Global position of each block's first row (needed with ``approx``).
    roundoff : bool, default False
        Also sum the absolute values of the gradient's terms at each point
        (for its round-off bound, see :func:`.glm_risk.risk_terms`).

    Returns
    -------
    dict
        ``loss`` (k,), ``grad`` (k, p), ``H`` (p, p) per point asked with one
        (key ``H<j>``), ``max_eta`` (k,), ``abs_grad`` (k, p) with ``roundoff``,
        and ``max_change``.
    """
    X, y, w, _ = block_arrays(spec, Xb, yb, wb, block, classes)
    m, d = X.shape
    p = (d + int(fit_intercept)) * (K - 1)
    N = float(m if w is None else w.sum())
    out = dict(loss=np.zeros(len(points)), grad=np.zeros((len(points), p)),
               max_eta=np.zeros(len(points)))
    if roundoff:
        out["abs_grad"] = np.zeros((len(points), p))
    for j, (theta, hessian) in enumerate(points):
        if hessian:
            out[f"H{j}"] = np.zeros((p, p))
        if m == 0:
            continue
        # sums = means times the block's weight; a block of zero weight adds only its maxima
        terms = risk_terms(X, y, theta, K, fit_intercept, 0.0, weights=w if N > 0 else None,
                           hessian=hessian, roundoff=roundoff)
        R, g, H, max_eta = terms[:4]
        scale = N if N > 0 else 0.0
        out["loss"][j], out["grad"][j], out["max_eta"][j] = R * scale, g * scale, max_eta
        if roundoff:  # without a penalty the bound is eps times the mean of |terms|
            out["abs_grad"][j] = terms[6] * (scale / _EPS)
        if hessian:
            out[f"H{j}"] = H * scale
    if approx:
        sub = slice(int(-offsets[block] % _STRIDE), None, _STRIDE)
        Xs, ys, ws = X[sub], y[sub], (None if w is None else w[sub])
        Ns = float(ys.size if ws is None else ws.sum())
        out["sub_totals"] = np.bincount(ys, weights=ws, minlength=K).astype(float)
        for j, theta in enumerate(approx):
            out[f"A{j}"] = np.zeros((p, p)) if Ns == 0 else risk_terms(
                Xs, ys, theta, K, fit_intercept, 0.0, weights=ws, gradient=False, hessian=True)[2] * Ns
    if change is not None:
        q = d + int(fit_intercept)
        at = lambda th, Xc: mn.log_proba(mn.design(Xc, fit_intercept), mn.unpack(th, K, q))
        out["max_change"] = predictive_change(at, change[0], change[1], X, default_chunk(p, K)) \
            if m else 0.0
    return out


class DaskRisk:
    """The penalised risk on dask rows, as :class:`~.newton.FrozenNewton` asks for it.

    ``evaluate(theta, hessian)`` and ``size(theta, step)`` answer as the
    in-memory fit's do; each pass also computes what the iteration
    (``optimiser``, set once it exists) will probably ask next.

    Parameters
    ----------
    rows : DaskRows
    classes : ndarray (K,)
    fit_intercept : bool
    l2 : float
    N : float
        Observations (sum of weights).

    Attributes
    ----------
    optimiser : FrozenNewton or None
    passes : int
        Passes over the data so far.
    """

    def __init__(self, rows, classes, fit_intercept, l2, N):
        self.rows, self.classes, self.K, self.fit_intercept = rows, classes, classes.size, fit_intercept
        self.l2, self.N = l2, N
        self.mask = mn.penalty_mask(self.K, rows.d + int(fit_intercept), rows.d)
        self._states, self._hessians, self._changes, self._approx, self._roundoffs = {}, {}, {}, {}, {}
        self.subsample = None  # set by the fit when Hessians of a subsample may stand in for H
        self.optimiser, self.passes, self._damping = None, 0, True
        self.finishing = False

    def _run(self, points, change=None, approx=()):
        # the round-off bounds of the gradients, on the passes the iteration asks them of
        roundoff = self.optimiser is not None and self.optimiser.asks_roundoff()
        parts = run_pass(self.rows, risk_block, merge_sums, self.classes, self.K, self.fit_intercept,
                         points, change, list(approx), self.rows.offsets, roundoff)
        self.passes += 1
        if approx and not (parts["sub_totals"] > 0).all():
            self.subsample = None  # a class is absent from the subsample: exact Hessians only
        for j, theta in enumerate(approx if self.subsample is not None else ()):
            H = parts[f"A{j}"] / float(parts["sub_totals"].sum())
            H[np.diag_indices(H.shape[0])] += 2.0 * self.l2 * self.mask
            self._approx[theta.tobytes()] = H
        for j, (theta, hessian) in enumerate(points):
            key = theta.tobytes()
            R = parts["loss"][j] / self.N + self.l2 * float(np.sum(self.mask * theta ** 2))
            grad = parts["grad"][j] / self.N + 2.0 * self.l2 * self.mask * theta
            self._states[key] = (R, grad, float(parts["max_eta"][j]))
            if roundoff:
                self._roundoffs[key] = _EPS * (parts["abs_grad"][j] / self.N
                                               + 2.0 * self.l2 * self.mask * np.abs(theta))
            if hessian:
                H = parts[f"H{j}"] / self.N
                H[np.diag_indices(H.shape[0])] += 2.0 * self.l2 * self.mask
                self._hessians[key] = H
        if change is not None:
            self._changes[change[0].tobytes() + change[1].tobytes()] = float(parts["max_change"])

    def _speculate(self, ask, hessian, change=None):
        """One pass for the point asked, with the line search's shorter steps when the
        iteration has been damping its steps (from the start, or the last step was short)."""
        opt, points = self.optimiser, [(ask, hessian)]
        if opt is not None:
            full = np.array_equal(ask, opt.theta - opt.step)
            if full and self._damping:
                points += [(opt.theta - t * opt.step, False) for t in _SPECULATIVE_STEPS
                           if (opt.theta - t * opt.step).tobytes() not in self._states]
            if full or not np.array_equal(ask, opt.theta):  # a shorter step: the next may be short too
                self._damping = not full
            if full and self.subsample is not None and opt.gmax() > opt.gtol_exact:
                approx = [ask]  # the next matrix is likely a subsample's, at the new point
                self._run(points, change, approx)
                return
        self._run(points, change)

    def approximate(self, theta):
        """The Hessian of the in-memory fit's subsample of rows at theta, or None when a class
        is absent from the subsample (then the iteration forms exact Hessians).

        Parameters
        ----------
        theta : ndarray (p,)

        Returns
        -------
        ndarray (p, p) or None
        """
        key = theta.tobytes()
        if key not in self._approx and self.subsample is not None:
            self._run([], None, [theta])
        return self._approx.get(key)

    def evaluate(self, theta, hessian, roundoff=False):
        """``(R, grad R, H or None, max|eta|)`` at theta, as ``risk_terms`` gives them.

        Parameters
        ----------
        theta : ndarray (p,)
        hessian : bool
        roundoff : bool, default False
            Append the round-off bound of grad R (p,), as ``risk_terms`` does.

        Returns
        -------
        tuple
        """
        key = theta.tobytes()
        if (key not in self._states or hessian and key not in self._hessians
                or roundoff and key not in self._roundoffs):
            self._speculate(theta, hessian)
        R, grad, max_eta = self._states[key]
        return (R, grad, self._hessians[key] if hessian else None, max_eta) + (
            (self._roundoffs[key],) if roundoff else ())

    def size(self, theta, step):
        """How far ``theta -> theta - step`` moves a training log-probability (the step test).

        Parameters
        ----------
        theta, step : ndarray (p,)

        Returns
        -------
        float
            :func:`~localinf.models.newton.predictive_change` on the training rows.
        """
        key = theta.tobytes() + step.tobytes()
        if key not in self._changes:
            opt = self.optimiser
            ahead = not self.finishing and opt is not None and np.array_equal(theta, opt.theta) \
                and np.array_equal(step, opt.step)
            if ahead:  # the iteration goes on to theta - step either way (a step or a final step)
                self._speculate(theta - step, False, (theta, step))
            else:
                self._run([], (theta, step))
        return self._changes[key]


def _gather_block(spec, Xb, yb, wb, block, classes):
    """The observations (rows of positive weight) of one block, as arrays."""
    X, y, w, _ = block_arrays(spec, Xb, yb, wb, block, classes)
    keep = slice(None) if w is None else w > 0
    return dict(X=[X[keep]], y=[y[keep]])


def _observations(rows, classes, n_pos, limit):
    """``(X, y)`` of the observations for the exact separation test, or a stand-in with
    their number of rows when there are more than ``limit`` (the test then finds none,
    as in memory)."""
    if n_pos > limit:
        return np.broadcast_to(np.zeros(1), (n_pos, rows.d)), np.zeros(n_pos, dtype=np.int64)
    parts = run_pass(rows, _gather_block, merge_sums, classes)
    return np.concatenate(parts["X"]), np.concatenate(parts["y"])


def fit_dask(model, X, y, sample_weight=None):
    """Fit a LogisticRegression or SoftmaxRegression on dask collections.

    The fitted attributes, the stopping tests and the errors are those of the
    model's in-memory ``fit``; the sums over rows are done block by block,
    about one pass over the data per Newton iteration, after a first pass
    that checks the data and finds the classes.

    Parameters
    ----------
    model : MultinomialLogit
        The estimator (its settings ``l2``, ``tol``, ... are used).
    X : dask.array.Array (n, d) or dask.dataframe.DataFrame
        Training inputs (finite); a DataFrame's column names become
        ``feature_names_in_``.
    y : dask.array.Array (n,) or dask.dataframe.Series
        Labels of any type, in the same row blocks as X.
    sample_weight : dask.array.Array (n,) or dask.dataframe.Series, optional
        Frequency weights.

    Returns
    -------
    model
        Fitted; ``n_passes_`` counts the passes over the data.
    """
    rows = DaskRows(X, y, sample_weight)
    scan = run_pass(rows, _scan_block, merge_sums)
    counts = [scan["counts"][i] for i in range(rows.nblocks)]
    rows.set_lengths(counts)
    if rows.n == 0:
        raise InputError("X is empty: it has no rows")
    classes = scan["classes"]
    check_fit_classes(classes, model._binary)
    weighted = sample_weight is not None and scan["ones"] < rows.n
    if sample_weight is not None:
        if not scan["N"] > 0:
            raise InputError("sample_weight sums to 0: no observation is left to fit")
        check_fit_classes(classes, model._binary, scan["totals"])
    if sample_weight is not None and not weighted:  # all ones: the unweighted fit, bit for bit
        rows = DaskRows(X, y)
        rows.set_lengths(counts)
    _fit_passes(model, rows, classes, float(scan["N"]) if weighted else float(rows.n),
                scan["n_pos"] if weighted else rows.n, scan["max_sq"])
    model.classes_ = classes
    model._set_feature_names(rows.names)
    return model


def _fit_passes(model, rows, classes, N, n_pos, max_sq):
    """``MultinomialLogit._fit_arrays`` with the sums over rows done in dask passes."""
    l2, tol, step_tol, max_iter, fit_intercept = model._settings()
    K, d = classes.size, rows.d
    p = (d + int(fit_intercept)) * (K - 1)
    seen = {}
    eta_max = ETA_SUSPICIOUS

    def data():  # the observations, gathered only when a refusal needs the separation test
        if "Xy" not in seen:
            seen["Xy"] = _observations(rows, classes, n_pos, SEPARATION_MAX_N)
        return seen["Xy"]

    degenerate = lambda singular: model._raise_degenerate(*data(), K, fit_intercept, l2, singular)
    # no subsample Hessian (a class absent from it) counts as one without a factor
    factor = lambda H, exact: None if H is None else model._factor(H, exact, degenerate)
    risk = DaskRisk(rows, classes, fit_intercept, l2, N)
    # as in memory: large problems start with Hessians of every _STRIDE-th row
    if rows.n >= _STRIDE * _ROWS_PER_PARAMETER * p:
        risk.subsample = _STRIDE
    start = risk.evaluate(np.zeros(p), risk.subsample is None)
    g0 = max(float(np.max(np.abs(start[1]))), 1.0)
    opt = FrozenNewton(risk.evaluate, factor, np.zeros(p), state=start,
                       approximate=None if risk.subsample is None else risk.approximate,
                       gtol_exact=GTOL_EXACT * g0, keep=keep_rule(risk.subsample is not None))
    risk.optimiser = opt
    kw = dict(gtol=tol * g0, min_step=_MIN_STEP)
    it = opt.run(max_iter=max_iter, **kw)
    tested = l2 == 0.0 and opt.state[3] > eta_max
    if tested:
        model._raise_degenerate(*data(), K, fit_intercept, l2, singular=False)
    bound = step_bound(K, d + int(fit_intercept), float(np.sqrt(max_sq + float(fit_intercept))))
    it += opt.run(max_iter=max_iter - it, size=risk.size, bound=bound, step_tol=step_tol,
                  final_steps=FINAL_STEPS, roundoff=risk.subsample is not None, **kw)
    theta = opt.theta
    R, grad, _, max_eta = opt.state
    gmax = float(np.max(np.abs(grad)))
    risk.finishing = True
    change = opt.step_size(risk.size, bound, step_tol)
    converged = gmax <= tol * g0 and change <= step_tol
    if l2 == 0.0 and not tested and (not converged or max_eta > eta_max):
        model._raise_degenerate(*data(), K, fit_intercept, l2, singular=False)
    if not converged:
        opt.refresh()  # the message gives the condition number of H at theta
        model._refuse(*data(), K, fit_intercept, l2, opt.H, dict(
            it=it, max_iter=max_iter, gmax=gmax, gtol=tol * g0, change=change, step_tol=step_tol))
    model.theta_ = theta
    model.l2_, model.fit_intercept_ = l2, fit_intercept
    model.n_classes_ = K
    model.classes_ = classes
    model.n_features_in_ = d
    model.n_iter_ = it
    model.grad_norm_ = float(np.linalg.norm(grad))
    model.converged_ = True
    model.n_train_ = rows.n
    model.n_passes_ = risk.passes + 1
