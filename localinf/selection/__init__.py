"""Selection: trimming training data and choosing points to label, with the paper's baselines.

* :mod:`.trimming` -- Algorithm 3, the trimming scores and curves;
* :mod:`.approximate` -- Algorithm 6 (FI on a subsample plus a random forest);
* :mod:`.active` -- Algorithms 4 and 8 (active learning), BALD;
* :mod:`.shapley` -- TMC Data Shapley;
* :mod:`.forest` -- the forest fill shared by Algorithms 6 and 8;
* :mod:`.checkpoint` -- resumable runs.
"""

from .active import STRATEGIES, acquisition_scores, active_learning
from .approximate import approximate_fi_util
from .shapley import accuracy, tmc_shapley
from .trimming import METHODS, fi_paired_scores, select, trim, trimming_curve, trimming_scores

__all__ = ["STRATEGIES", "acquisition_scores", "active_learning", "approximate_fi_util",
           "accuracy", "tmc_shapley", "METHODS", "fi_paired_scores", "select", "trim",
           "trimming_curve", "trimming_scores"]
