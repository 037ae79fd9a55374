"""Cross-checks of an influence backend: the validation suite's properties.

Each check computes one quantity two independent ways and returns the
measured discrepancy together with a tolerance derived from the numerics (not
tuned to the observed values). They are used by the property tests in
``validation/`` (driven by hypothesis) and by ``python -m localinf.validate``,
which runs them on seeded problems and writes a report.

A backend under test is given as ``make(model, X, y) -> influence`` where the
influence object has :class:`~localinf.LocalInfluence`'s methods
(``fi_util``, ``fi``, ``influence_value``, ``influence``, ``self_influence``,
``dtheta_domega``, ``gradient``, ``metric``, ``mixed_partial``, and the
attributes ``n_``, ``d_``, ``H_inv_``). The default is ``LocalInfluence``.

Common parameters of the checks:

* ``X, y`` -- training data (n, d) and labels (n,);
* ``model`` -- a model fitted on them;
* ``fit`` -- ``fit(X, y) -> model``, refitting the same kind of model (warm
  started for networks);
* ``Xv, yv`` -- validation data;
* ``make`` -- the backend under test, ``make(model, X, y) -> influence``
  (default :class:`~localinf.LocalInfluence`).

Each check returns :class:`Check` objects (or a list of them).

Conventions shared by every check: ``rel_err(a, b) = max|a - b| / max|b|``;
FI values are compared only on rows whose kept metric eigenvalues sit well
above the rank cut-off (``well_separated_rows``), since 1/lambda amplifies
round-off near it.
"""

from .approximations import iterative_solvers, kfsvd_convergence
from .backends import backends_agree
from .check import Check, fit_glm, rel_err, well_separated_rows
from .external import statsmodels_agreement
from .metamorphic import invariance_iff_range, metamorphic
from .refits import first_order_prediction, refit_derivatives
from .retraining import lds, leave_one_out

__all__ = ["iterative_solvers", "kfsvd_convergence", "backends_agree", "Check", "fit_glm",
           "rel_err", "well_separated_rows", "statsmodels_agreement", "invariance_iff_range",
           "metamorphic", "first_order_prediction", "refit_derivatives", "lds", "leave_one_out"]
