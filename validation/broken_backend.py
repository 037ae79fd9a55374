"""A deliberately wrong backend, for the test that the report catches it.

It is a complete backend in the sense of :mod:`localinf.backends.base`: the
reference backend's closed forms for every row, but ``H^{-1}`` built from a
Hessian scaled by 1 + 1e-4, as a backend with a mis-scaled penalty would be.
docs/architecture.md uses it as the example of adding a backend.
"""

import localinf as li
from localinf.backends import ReferenceBackend
from localinf.models.glm_risk import risk_derivatives


class MisScaledHessian(ReferenceBackend):
    """The reference backend with ``H`` replaced by ``(1 + 1e-4) H``."""

    @classmethod
    def from_data(cls, model, X, y, scale=1 + 1e-4):
        """Build from the training data, with the Hessian scaled by ``scale``."""
        _, _, H, _, _ = risk_derivatives(X, y, model.theta_, model.n_classes_,
                                         bool(model.fit_intercept), float(model.l2))
        return cls(model, X.shape[0], li.InverseHessian(H * scale))


def make(model, X, y):
    """The factory ``python -m localinf.validate --backend broken_backend:make`` loads."""
    return li.LocalInfluence(model, X, y, backend=MisScaledHessian.from_data(model, X, y))
