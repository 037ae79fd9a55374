"""Models: what is fitted, and the closed forms and risks the other layers differentiate.

* :mod:`.glm` -- :class:`LogisticRegression` and :class:`SoftmaxRegression`, fitted
  exactly by :mod:`.newton` (Newton steps with a Hessian kept while it serves);
  their closed forms in :mod:`.multinomial` and their risk in row chunks in
  :mod:`.glm_risk`; :mod:`.separation` tests separability; :mod:`.glm_dask` and
  :mod:`.dask_data` fit them on dask collections, block by block;
* :mod:`.autograd_model` -- :class:`AutogradModel` (any differentiable classifier)
  and its risk on data; :mod:`.glm_autograd` runs a GLM through it;
* :mod:`.mlp` and :mod:`.fit_mlp` -- dense networks (and :func:`fit_last_layer`, the exact
  last layer of a network trained by Adam); :mod:`.mlp_hessian` assembles their
  Hessian and Gauss-Newton matrix from per-layer closed forms, :mod:`.risk_sums`
  the general routes for other models.
"""

from .autograd_model import AutogradModel, DataRisk, RestrictedModel, log_softmax
from .fit_mlp import fit_last_layer, fit_mlp
from .glm import LogisticRegression, MultinomialLogit, SoftmaxRegression
from .glm_autograd import from_glm, glm_logits
from .mlp import MLP, init_mlp, last_layer, mlp_logits

__all__ = ["AutogradModel", "DataRisk", "RestrictedModel", "log_softmax", "fit_mlp", "fit_last_layer",
           "LogisticRegression", "MultinomialLogit", "SoftmaxRegression", "from_glm", "glm_logits",
           "MLP", "init_mlp", "last_layer", "mlp_logits"]
