"""The reference backend from a Hessian formed elsewhere (by passes over a dask collection).

:meth:`ReferenceBackend.from_data` forms H on in-memory training data. When the
rows live in a dask collection, H is summed block by block
(:mod:`localinf.measures.lazy`) and the backend is built from it here, so the
measures layer reaches the closed forms through this factory, as it reaches
them through :func:`~localinf.backends.factory.make_backend` in memory.
"""

from ..curvature.exact import InverseHessian
from .reference import ReferenceBackend


def reference_from_hessian(model, n, H, n_obs=None, chunk_size=None):
    """A :class:`ReferenceBackend` for a fitted GLM, its Hessian H and the training sizes.

    Parameters
    ----------
    model : LogisticRegression or SoftmaxRegression, fitted
    n : int
        Training rows.
    H : ndarray (p, p)
        Hessian of the penalised risk at the model's parameters, on all training rows.
    n_obs : float, optional
        Observations ``N = sum_i w_i`` with frequency weights (default n): the
        ``1/N`` of ``D_i = -H^{-1} M_i / N``. Per-row values need N only, not the
        weights themselves, so the backend holds none.
    chunk_size : int, optional
        Rows per chunk within a block.

    Returns
    -------
    ReferenceBackend
        With ``H_inv`` an :class:`~localinf.curvature.InverseHessian` (which
        refuses a singular or ill-conditioned H, as in memory).
    """
    built = ReferenceBackend(model, n, InverseHessian(H), chunk_size=chunk_size)
    if n_obs is not None:
        built.N = built.D_divisor = float(n_obs)
    return built
