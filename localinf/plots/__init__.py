"""Plots for influence results (matplotlib; every function returns the Figure).

* :func:`plot_influence` - studentized residual against leverage, bubble area
  by Cook's distance or FI_util (R's ``car::influencePlot``);
* :func:`plot_index` - any column of a ``summary_frame`` by row label;
* :func:`plot_fi_iv` - FI_util against IV: sensitive rows and which way deleting
  them is predicted to go;
* :func:`plot_fi_leverage` - FI_util against leverage;
* :func:`plot_trimming_curve` - test accuracy against budget, one line per method;
* :func:`plot_2d` - a two-feature training set, the rows a method removes and the
  decision boundary before and after (the paper's Figure 1).
"""

from ._common import _plt  # noqa: F401 - the cli draws its own figures with it
from .diagnostics import plot_fi_iv, plot_influence
from .index import plot_fi_leverage, plot_index
from .training import plot_2d, plot_trimming_curve

__all__ = ["plot_influence", "plot_index", "plot_fi_iv", "plot_fi_leverage", "plot_trimming_curve",
           "plot_2d"]
