"""localinf against statsmodels: unpenalised fits, Hessians and GLM influence."""

import numpy as np

from ..measures.local_influence import LocalInfluence
from .check import Check, fit_glm, rel_err


def statsmodels_agreement(X, y, tol=1e-6):
    """Unpenalised fits against statsmodels' Logit / MNLogit (params and Hessian), and
    the case-weight Cook local influence against GLM leverage x Pearson residual^2.

    Both fits are Newton iterations run to convergence; statsmodels stops at
    its own tolerance (~1e-8 on the gradient), so parameters agree to ~1e-6.

    Parameters
    ----------
    X, y
        Data with no separation (the fits are unpenalised).
    tol : float, default 1e-6

    Returns
    -------
    list of Check
    """
    import statsmodels.api as sm  # 1.5 s to import; only this check needs it
    K = int(np.max(y)) + 1
    model = fit_glm(X, y, 0.0)
    Xc = sm.add_constant(X, has_constant="add")
    out = []
    if K == 2:
        res = sm.Logit(y, Xc).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
        ours = np.r_[model.theta_[-1], model.theta_[:-1]]  # statsmodels: constant first
        out.append(Check("statsmodels: Logit params", rel_err(ours, res.params), tol))
        glm = sm.GLM(y, Xc, family=sm.families.Binomial()).fit(tol=1e-12)
        infl = glm.get_influence()
        cook = LocalInfluence(model, X, y).cook_local_influence()
        want = infl.hat_matrix_diag * glm.resid_pearson ** 2
        out.append(Check("statsmodels: Cook case-weight = leverage x Pearson^2",
                         rel_err(cook, want), tol))
    else:
        res = sm.MNLogit(y, Xc).fit(disp=0, method="newton", tol=1e-12, maxiter=100)
        theta = model.theta_.reshape(K - 1, -1)  # (coef, intercept) per class
        ours = np.column_stack([theta[:, -1], theta[:, :-1]]).T  # statsmodels: (1 + d, K - 1)
        out.append(Check("statsmodels: MNLogit params", rel_err(ours, np.asarray(res.params)), tol))
    return out
