"""localinf: local influence of training points on a model's performance.

The exact measure FI (eq. 2.1 of Yu et al., ICLR 2025), FI_util (3.1),
FI_active (4.1) and classic baselines, in closed form for logistic and
softmax regression and by automatic differentiation for any differentiable
classifier; data trimming and active learning built on them.

The package is layered by pipeline stage, imports pointing down only
(docs/architecture.md): ``models`` -> ``curvature`` -> ``backends`` ->
``measures`` -> ``selection`` -> ``validation`` -> ``interop``, ``plots`` -> ``cli``.
"""

from ._core.budget import budget, set_budget
from .curvature import (CGInverse, DampedInverse, GaussNewton, InverseHessian, KFACInverse,
                        LissaInverse)
from .exceptions import (ApproximateFitWarning, InputError, InSampleWarning, LocalInfluenceError, BudgetError,
                         NotConvergedError, NotFittedError, NumericalError, PerfectSeparationError,
                         SingularHessianError)
from .interop import from_sklearn, from_statsmodels
from .measures import InvarianceResult, LocalInfluence, ValidationInfluence, check_invariance, fi_pairs
from .models import (MLP, AutogradModel, LogisticRegression, SoftmaxRegression, fit_last_layer,
                     fit_mlp, from_glm, glm_logits, init_mlp, last_layer, mlp_logits)
from .plots import (plot_2d, plot_fi_iv, plot_fi_leverage, plot_index, plot_influence,
                    plot_trimming_curve)
from .selection import (acquisition_scores, active_learning, approximate_fi_util, fi_paired_scores,
                        select, tmc_shapley, trim, trimming_curve, trimming_scores)

__version__ = "0.1.0"

__all__ = [
    "LogisticRegression", "SoftmaxRegression", "LocalInfluence", "ValidationInfluence",
    "check_invariance", "InvarianceResult", "InverseHessian", "DampedInverse", "CGInverse",
    "LissaInverse", "KFACInverse", "GaussNewton", "AutogradModel", "MLP", "from_glm", "glm_logits",
    "fit_mlp", "fit_last_layer",
    "init_mlp", "last_layer", "mlp_logits",
    "trim", "trimming_curve", "trimming_scores", "select", "approximate_fi_util",
    "fi_pairs", "fi_paired_scores", "tmc_shapley", "active_learning", "acquisition_scores",
    "from_statsmodels", "from_sklearn", "plot_index", "plot_fi_leverage", "plot_trimming_curve", "plot_2d",
    "plot_influence", "plot_fi_iv", "LocalInfluenceError", "InputError",
    "PerfectSeparationError", "SingularHessianError", "NotConvergedError", "NotFittedError",
    "NumericalError", "BudgetError", "InSampleWarning", "ApproximateFitWarning", "set_budget", "budget",
]
