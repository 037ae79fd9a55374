"""Measures: local influence and the classic baselines, written once on the backend protocol.

* :mod:`.local_influence` -- :class:`LocalInfluence` (eq. 2.1, 4.1, IV, classic influence);
* :mod:`.bound` -- :class:`ValidationInfluence`, a validation set bound once (eq. 3.1);
* :mod:`.pinv` -- the pseudo-inverse quadratic forms ``g^T G^+ g`` and their rank cut-off;
* :mod:`.aggregate` -- FI_active's aggregation over the labeled set;
* :mod:`.cook` -- Cook's (1986) local influence;
* :mod:`.invariance` -- Theorem 1, checked;
* :mod:`.pairs` -- FI of pairs perturbed together;
* :mod:`.pairwise` -- FI for many queries at once (``fi``, ``fi_active``);
* :mod:`.rank_one` -- the pseudo-inverse form of a rank-one metric (binary closed forms);
* :mod:`.lazy` -- :class:`DaskLocalInfluence`, the same measures on dask collections.
"""

from .aggregate import AGGREGATIONS, aggregate
from .bound import ValidationInfluence
from .cook import PERTURBATIONS, cook_local_influence
from .invariance import InvarianceResult, check_invariance
from .lazy import DaskLocalInfluence
from .lazy_bound import DaskValidationInfluence
from .local_influence import LocalInfluence
from .pairs import fi_pairs

__all__ = ["AGGREGATIONS", "aggregate", "ValidationInfluence", "PERTURBATIONS",
           "cook_local_influence", "InvarianceResult", "check_invariance", "LocalInfluence",
           "fi_pairs", "DaskLocalInfluence", "DaskValidationInfluence"]
