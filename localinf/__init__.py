"""localinf: local influence of training points on a model's performance.

The exact measure FI (eq. 2.1 of Yu et al., ICLR 2025), FI_util (3.1),
FI_active (4.1) and classic baselines, in closed form for logistic and
softmax regression and by automatic differentiation for any differentiable
classifier; data trimming and active learning built on them.
"""

from .exceptions import (InputError, LocalInfluenceError, NotConvergedError, NotFittedError,
                         PerfectSeparationError, SingularHessianError)
from .models import LogisticRegression, SoftmaxRegression
from .measures import LocalInfluence
from .invariance import InvarianceResult, check_invariance
from .curvature import CGInverse, DampedInverse, InverseHessian, LissaInverse
from .autodiff import AutogradModel, from_glm, glm_logits
from .nn import fit_mlp, init_mlp, last_layer, mlp_logits
from .trimming import (approximate_fi_util, fi_paired_scores, fi_pairs, select, tmc_shapley,
                       trim,
                       trimming_curve, trimming_scores)
from .active import acquisition_scores, active_learning
from .interop import from_sklearn, from_statsmodels
from .plots import plot_2d, plot_fi_leverage, plot_index, plot_trimming_curve

__version__ = "0.1.0"

__all__ = [
    "LogisticRegression", "SoftmaxRegression", "LocalInfluence", "check_invariance",
    "InvarianceResult", "InverseHessian", "DampedInverse", "CGInverse", "LissaInverse",
    "AutogradModel", "from_glm", "glm_logits", "fit_mlp", "init_mlp", "last_layer", "mlp_logits",
    "trim", "trimming_curve", "trimming_scores", "select", "approximate_fi_util",
    "fi_pairs", "fi_paired_scores", "tmc_shapley", "active_learning", "acquisition_scores",
    "from_statsmodels", "from_sklearn", "plot_index", "plot_fi_leverage", "plot_trimming_curve", "plot_2d",
    "LocalInfluenceError", "InputError",
    "PerfectSeparationError", "SingularHessianError", "NotConvergedError", "NotFittedError",
]
