"""Damped Newton methods: the GLM fit and the polish of network fits.

Influence formulas are derivatives at the exact minimiser of the risk R, so
both fits end with Newton steps, which converge quadratically near a strict
minimum. The step is damped by a backtracking (Armijo) line search on R.

A small gradient alone does not place theta near the minimiser: where R is
flat (nearly separable classes and a tiny penalty) the gradient is tiny while
the Newton step ``H^{-1} grad R``, the distance to the minimiser of the local
quadratic model, is not. So the stopping rule can also ask the Newton step to
be negligible (``step_size``), and :func:`predictive_change` measures a step
by what it does to the model's predictions.

:class:`FrozenNewton` (the GLM fit) keeps a Hessian for as long as it serves
(the chord method): where H costs several passes over the data and R with its
gradient one, a step ``theta - H_0^{-1} grad R(theta)`` with H_0 from an earlier
point, or an approximation of H, shrinks the gradient by about
``||I - H(theta) H_0^{-1}||``, small near the minimiser. The gradient is always
exact, so the limit is the exact minimiser whatever matrix is kept. The Newton
step of the stopping rule is then approximate: if the iteration contracts at
rate rho, the exact step is about the sum of the remaining ones, at most
``1 / (1 - rho)`` times the first; so a step ``STALE_MARGIN`` times below the
tolerance is accepted as measured, one closer to it measured with the exact H.
"""

import numpy as np

from .._core.chunks import row_chunks

_EPS = np.finfo(float).eps
# A step this many times below step_tol is negligible even when measured with a kept H.
STALE_MARGIN = 1e-3
# Approximations in a row that may fail (their full step fails the line search, or
# their first step shrinks sqrt(grad^T H^{-1} grad) by less than _APPROX_SHRINK)
# before only exact Hessians are used.
_APPROX_FAILS = 2
_APPROX_SHRINK = 0.5


def armijo(value, theta, step, R, dec, min_step, c=1e-4):
    """Step length ``t`` in 1, 1/2, 1/4, ... with ``R(theta - t step) <= R - c t dec``.

    Parameters
    ----------
    value : callable
        ``value(theta) -> R(theta)``.
    theta, step : ndarray (p,)
    R : float
        ``R(theta)``.
    dec : float
        Predicted decrease ``grad R . step`` (> 0 for a descent direction).
    min_step : float
        Smallest t tried.
    c : float, default 1e-4

    Returns
    -------
    float or None
        The step length; 1.0 when ``dec`` is below round-off in R (the line
        search cannot see progress there, and the full Newton step is taken);
        None when no t >= min_step decreases R enough.
    """
    if dec <= 1e3 * _EPS * max(1.0, abs(R)):
        return 1.0
    t = 1.0
    while t >= min_step:
        if value(theta - t * step) <= R - c * t * dec:
            return t
        t *= 0.5
    return None


def newton_minimise(derivatives, value, theta, *, gtol, max_iter, solve, min_step, require_progress=False):
    """Damped Newton's method until ``max|grad R| <= gtol`` (the polish of network fits).

    Parameters
    ----------
    derivatives : callable
        ``derivatives(theta) -> (R, grad R, H, ...)``; H may be a callable
        returning the Hessian, formed only when a step is taken.
    value : callable
        ``value(theta) -> R`` (for the line search).
    theta : ndarray (p,)
        Starting point.
    gtol : float
        Stop when ``max|grad R| <= gtol``.
    max_iter : int
        Most damped steps.
    solve : callable
        ``solve(H, grad) -> step`` (p,), the Newton step ``H^{-1} grad``, or
        None to stop (e.g. H is not positive definite).
    min_step : float
        Smallest step length of the line search; below it the method stops.
    require_progress : bool, default False
        Stop instead of taking a step that does not lower ``max|grad R|``.

    Returns
    -------
    theta : ndarray (p,)
    state : tuple
        ``derivatives(theta)`` at the returned theta.
    n_iter : int
        Damped steps attempted. The caller judges convergence at the returned
        theta: the method also stops early when the line search or ``solve``
        gives up, or ``require_progress`` fails.
    """
    state = derivatives(theta)
    worst = lambda s: float(np.max(np.abs(s[1])))
    n_iter = 0
    while n_iter < max_iter and worst(state) > gtol:
        step = solve(state[2]() if callable(state[2]) else state[2], state[1])
        if step is None:
            break
        n_iter += 1
        t = armijo(value, theta, step, state[0], float(state[1] @ step), min_step)
        if t is None:
            break  # no descent left at this precision
        cand = theta - t * step
        new = derivatives(cand)
        if require_progress and worst(new) >= worst(state):
            break
        theta, state = cand, new
    return theta, state, n_iter


def predictive_change(log_proba_at, theta, step, X, chunk=None):
    """How much a step ``theta -> theta - step`` changes the predictions on X.

    The size of a Newton step that matters for influence values: they are
    built from the class probabilities and their derivatives, which change by
    a relative amount of about this much. It does not depend on the scale of
    the features or on the parameterisation.

    Parameters
    ----------
    log_proba_at : callable
        ``log_proba_at(theta, X_chunk) -> (m, K)`` log class probabilities.
    theta, step : ndarray (p,)
    X : ndarray (n, d)
        The training inputs.
    chunk : int, optional
        Rows per pass (default: all at once).

    Returns
    -------
    float
        ``max_{i, c} |log P(c|x_i; theta - step) - log P(c|x_i; theta)|``;
        inf when a value is not finite.
    """
    worst = 0.0
    for sl in row_chunks(X.shape[0], chunk or X.shape[0]):
        moved = float(np.max(np.abs(log_proba_at(theta - step, X[sl]) - log_proba_at(theta, X[sl]))))
        if not np.isfinite(moved):
            return np.inf
        worst = max(worst, moved)
    return worst


class FrozenNewton:
    """Minimise R by Newton steps that reuse a factored matrix while it serves.

    A matrix is kept while each step passes the line search at full length and
    shrinks the Newton decrement ``grad^T H^{-1} grad`` by ``keep**2`` at least;
    otherwise one is formed at the new point. The matrices, cheapest first:

    * ``"coarse"``: ``approximate(theta)`` or ``evaluate(theta, "coarse")``,
      e.g. the Hessian of a subsample of the rows, while
      ``max|grad R| > gtol_exact`` (far out, the exact H is out of date after a
      step anyway);
    * ``"single"`` (when ``single``): the Hessian with its products in single
      precision, ``evaluate(theta, "single")``, relative error ~1e-7;
    * ``"exact"``: ``evaluate(theta, True)``, used when the others are not
      asked for, have no Cholesky factor, fail the line search at full length
      or fail to shrink the decrement by ``_APPROX_SHRINK`` on their first step
      (twice in a row), and wherever the stopping rule needs the Newton step
      with the exact H at theta. With exact ones only it is damped Newton.

    Parameters
    ----------
    evaluate : callable
        ``evaluate(theta, hessian) -> (R, grad R, H or None, *extra)``: one pass,
        with a matrix H (p, p) of kind ``hessian`` (True for ``"exact"``).
        Asked by ``run(..., roundoff=True)`` only, ``evaluate(theta, hessian,
        roundoff=True)`` appends a last entry: an upper bound (p,) on the
        round-off in that grad R, entry by entry.
    factor : callable
        ``factor(H, exact) -> solve`` with ``solve(g) = H^{-1} g`` (p,); for an
        exact H that cannot be factored it raises, else it returns None.
    theta : ndarray (p,)
        Starting point.
    state : tuple, optional
        ``evaluate(theta, kind)`` when the caller has it already.
    kind : str, default "exact"
        The kind of ``state``'s H.
    approximate : callable, optional
        ``approximate(theta) -> H`` (p, p); default: no coarse matrices.
    gtol_exact : float, default 0
        Coarse matrices are used only while ``max|grad R|`` is above this.
    keep : tuple of float, default (0.25, 0.2)
        ``keep`` for Hessians of R (exact or single) and for coarse matrices.
    single : bool, default False
        Whether ``evaluate`` offers ``"single"`` (and ``"coarse"`` when
        ``approximate`` is given).

    Attributes
    ----------
    theta : ndarray (p,)
        The current point.
    state : tuple
        ``evaluate(theta, ...)`` at it (its H entry may be None).
    H : ndarray (p, p)
        The matrix in use, of ``kind`` ``"coarse"``, ``"single"`` or ``"exact"``;
        ``exact`` says whether it is the exact Hessian at ``theta``.
    step : ndarray (p,)
        ``H^{-1} grad R(theta)``.
    roundoff : ndarray (p,) or None
        The round-off bound of ``grad R(theta)``, where the pass at theta gave one.
    formed : dict
        Matrices formed so far, by kind.
    """

    def __init__(self, evaluate, factor, theta, state=None, kind="exact", approximate=None,
                 gtol_exact=0.0, keep=(0.25, 0.2), single=False):
        self.evaluate, self.factor, self.keep = evaluate, factor, keep
        self.approximate, self.gtol_exact, self.single = approximate, gtol_exact, single
        self.theta = np.asarray(theta, dtype=float)
        self.formed = {"coarse": 0, "single": 0, "exact": 0}
        self._fails = 0
        self._shrink = None  # grad^T H^{-1} grad after / before the last full step
        self._roundoff_below = None  # passes from points with max|grad R| <= this bound its round-off
        if state is None:
            state, kind = evaluate(self.theta, approximate is None and not single), "exact"
        self._at((state, None), kind)
        self._form(exact=False)

    @property
    def exact(self):
        """Whether the matrix in use is the exact Hessian at ``theta``.

        Returns
        -------
        bool
        """
        return self.kind == "exact" and self._here

    def _at(self, passed, kind):
        """Take ``passed = (state, roundoff)``, a pass at theta; ``kind`` is that of its H (if any)."""
        (self.state, self.roundoff), self._state_kind = passed, (kind if passed[0][2] is not None else None)

    def asks_roundoff(self):
        """Whether a pass from the current point is asked for the round-off bound of grad R: in
        a ``run(..., roundoff=True)`` once the gradient test passes (those decide the final steps).

        Returns
        -------
        bool
        """
        return self._roundoff_below is not None and self.gmax() <= self._roundoff_below

    def _pass(self, theta, kind):
        """``(evaluate(theta, kind), round-off bound or None)``, the bound where ``asks_roundoff``."""
        if self.asks_roundoff():
            *state, roundoff = self.evaluate(theta, kind, roundoff=True)
            return tuple(state), roundoff
        return self.evaluate(theta, kind), None

    def _use(self, H, kind):
        """Factor H and take it (False if it is not exact and has no factor)."""
        solve = self.factor(H, kind == "exact")
        if solve is None:
            return False
        self.formed[kind] += 1
        self.H, self.kind, self.solve, self._here, self._new = H, kind, solve, True, True
        self.step = solve(self.state[1])
        return True

    def _only_exact(self):
        return self._fails >= _APPROX_FAILS or not (self.approximate or self.single)

    def _form(self, exact):
        """A new matrix at theta: the cheapest that may serve, else the exact Hessian."""
        far = self.gmax() > self.gtol_exact
        if not exact and not self._only_exact():
            if self.state[2] is not None and (far or self._state_kind != "coarse"):
                if self._use(self.state[2], self._state_kind):  # formed by the pass at theta
                    return
            elif self.approximate is not None and far:
                if self._use(self.approximate(self.theta), "coarse"):
                    return
            elif self.single:
                self._at(self._pass(self.theta, "single"), "single")
                if self._use(self.state[2], "single"):
                    return
        if self._state_kind != "exact":
            self._at(self._pass(self.theta, True), "exact")
        self._use(self.state[2], "exact")

    def refresh(self):
        """Use the exact Hessian at the current point (if the matrix in use is not that)."""
        if not self.exact:
            self._form(exact=True)

    def gmax(self):
        """``max|grad R|`` at the current point.

        Returns
        -------
        float
        """
        return float(np.max(np.abs(self.state[1])))

    def step_size(self, size, bound, step_tol):
        """The size of the Newton step at theta, with the exact H there when a kept one cannot tell.

        Parameters
        ----------
        size : callable
            ``size(theta, step) -> float``.
        bound : callable
            ``bound(step) -> float``, an upper bound on ``size`` that costs no pass.
        step_tol : float

        Returns
        -------
        float
            ``size(theta, H^{-1} grad R)``, or its bound when that is
            ``STALE_MARGIN * step_tol`` or less.
        """
        cheap = bound(self.step)
        if cheap <= STALE_MARGIN * step_tol:
            return cheap
        measured = size(self.theta, self.step)
        if self.exact or measured <= STALE_MARGIN * step_tol or measured > step_tol:
            return measured
        self.refresh()
        return size(self.theta, self.step)

    def run(self, *, gtol, max_iter, min_step, size=None, bound=None, step_tol=0.0, final_steps=0,
            roundoff=False):
        """Steps until ``max|grad R| <= gtol`` (and, with ``size``, a negligible Newton step).

        Parameters
        ----------
        gtol : float
        max_iter : int
            Most line-searched steps.
        min_step : float
            Smallest step length of the line search; below it the method stops.
        size : callable, optional
            ``size(theta, step) -> float``; then the method stops only once
            also the Newton step's size is at most ``step_tol``. It is measured
            with the exact H at theta only; with a kept matrix the method stops
            once ``bound(step) <= STALE_MARGIN * step_tol``, else steps on.
        bound : callable, optional
            ``bound(step) -> float``, an upper bound on ``size`` that costs no
            pass (default: none).
        step_tol : float, default 0
        final_steps : int, default 0
            Once both tests pass, up to this many full steps while they lower
            ``||grad R||``: from the tolerance to round-off level. None is taken
            once the step would move no entry of theta by a unit in the last place,
            nor (with ``roundoff``) once every entry of grad R is within its
            round-off bound: grad R is then zero to working precision, and a
            further step only trades one round-off error for another.
        roundoff : bool, default False
            Whether the passes from points that pass the gradient test also
            bound the round-off in grad R (``evaluate(..., roundoff=True)``),
            for the final steps.

        Returns
        -------
        int
            Line-searched steps taken; the method also stops early when the
            line search finds no decrease (the caller judges convergence).
        """
        n_iter = 0
        self._roundoff_below = gtol if roundoff else None
        while n_iter < max_iter:
            if self.gmax() <= gtol:
                if size is None or bound is not None and bound(self.step) <= STALE_MARGIN * step_tol:
                    break
                if self.exact and size(self.theta, self.step) <= step_tol:
                    break
            n_iter += 1
            if not self._advance(min_step):
                break
        if self.gmax() <= gtol:
            for _ in range(final_steps):
                if np.all(np.abs(self.step) <= _EPS * np.abs(self.theta)):
                    break  # theta is the minimiser to round-off
                if self.roundoff is not None and np.all(np.abs(self.state[1]) <= self.roundoff):
                    break  # grad R is zero to working precision
                cand = self.theta - self.step
                passed = self._pass(cand, False)
                if not np.linalg.norm(passed[0][1]) < np.linalg.norm(self.state[1]):
                    break
                self.theta, self._here = cand, False
                self._at(passed, None)
                self.step = self.solve(self.state[1])
        self._roundoff_below = None
        return n_iter

    def _advance(self, min_step):
        """One line-searched step; False when no step length decreases R enough.

        When the step will likely call for a Hessian of R at the new point (see
        ``_expect``), the pass at the full step forms it too."""
        R, grad = self.state[0], self.state[1]
        last = {}

        def value(th):  # one pass gives R and grad R: keep the latter for the step taken
            kind = self._expect() if not last else False
            last["at"], last["kind"] = self._pass(th, kind), ("exact" if kind is True else kind)
            return last["at"][0][0]

        while True:
            last.clear()
            dec = float(grad @ self.step)
            t = armijo(value, self.theta, self.step, R, dec, 1.0 if not self.exact else min_step)
            if t is not None or self.exact:
                break
            self._fails += self.kind != "exact"  # the kept matrix is too far off: a true Newton step
            self._form(exact=True)
        if t is None:
            return False
        cand = self.theta - t * self.step
        passed, kind = (last["at"], last["kind"]) if last else (self._pass(cand, False), None)
        first = self._new and self.kind != "exact"
        self.theta, self._here, self._new = cand, False, False
        self._at(passed, kind)
        new = self.state
        step = self.solve(new[1])
        shrink = float(new[1] @ step) / dec if dec > 0 else 0.0
        self._shrink = shrink if t == 1.0 else 1.0
        if first:  # an approximation serves if its first step does about as well as Newton's
            self._fails = self._fails + 1 if shrink > _APPROX_SHRINK ** 2 else 0
        coarse = self.kind == "coarse"
        keep = self.keep[1] if coarse else self.keep[0]
        if (new[2] is None and t == 1.0 and shrink <= keep ** 2
                and not (coarse and self.gmax() <= self.gtol_exact)):
            self.step = step
        else:
            self._form(exact=False)
        return True

    def _expect(self):
        """The matrix the pass at the full step should form (False: none): in Newton's
        regime (the last step called for a new matrix) a coarse one, or the exact
        one when only exact ones serve; the single or exact one when the gradient
        is about to fall below ``gtol_exact`` (predicted from the last step's
        shrinking) under a coarse matrix."""
        if self._shrink is None:
            return False
        if self.kind == "coarse":
            if self.gmax() * np.sqrt(self._shrink) <= self.gtol_exact:
                return "single" if self.single and not self._only_exact() else True
            return "coarse" if self.single and self._here and self._shrink > self.keep[1] ** 2 else False
        newton = self.exact and self._shrink > self.keep[0] ** 2
        return newton and self._only_exact()
