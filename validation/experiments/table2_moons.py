"""Table 2 analogue: trimming a two-hidden-layer network on two moons, with baselines.

scikit-learn's two moons (noise 0.3), 500 training / 250 validation / 250
test points per seed, hidden layers (16, 16), weight decay l2 = 1e-3. Three
networks, each scored by FI_util and by IV, against random removal and no
removal (seed-paired: wins/ties/losses, mean difference with a 95 % interval,
sign test):

* ``softplus``: the smooth counterpart of ReLU, fitted by L-BFGS and Newton to
  the minimiser of the whole network's risk; influence over all parameters.
  Refits after trimming start from the full-data fit.
* ``relu``: the paper's activation, fitted as such networks usually are: Adam
  from a seeded random start, then the last layer alone set to the exact
  minimiser of the risk with the hidden layers frozen
  (``fit_mlp(..., activation="relu", finish="last_layer")``, which calls
  :func:`localinf.fit_last_layer`: with the hidden layers fixed, the last
  layer's risk is a ridge logistic regression on the last hidden activations,
  solved by Newton's method to round-off). Full-batch L-BFGS on the whole
  ReLU risk stops on a kink and is refused. Influence goes through the last
  layer (:func:`localinf.last_layer`), as the paper does for its image
  networks; those restricted formulas are exact, because that layer is at its
  minimiser. Refits after trimming repeat the same recipe (same seed, Adam
  from scratch, exact last layer).
* ``relu_ggn``: the same fitted network as ``relu`` (same recipe, same refits),
  with influence over all 337 parameters instead of the last 17:
  ``LocalInfluence(net, X, y, curvature="ggn", at_minimiser=False)``, every
  H^{-1} replaced by the inverse of the generalised Gauss-Newton matrix G of
  the penalised risk, with damping 0 (:data:`GGN_DAMPING`; G contains the
  weight decay's ``2 l2 I`` on every parameter, so it is positive definite
  without damping). The hidden layers are not at a minimiser (Adam stops with
  max|grad R| ~ 1e-2), and the ReLU risk has no Hessian at the kinks, so these
  values are not derivatives of a minimiser: they are what the formulas give
  when the parameters respond to a perturbation by one Gauss-Newton step.
  Using the same network as ``relu`` (rather than the optimiser's output
  without the exact last layer) makes the two ReLU rows differ only in the
  route influence takes; the untrimmed and random rows of the two are the
  same numbers.

Run:  python validation/experiments/table2_moons.py [--seeds 20] [--quick]
      [--networks softplus,relu,relu_ggn]
Writes results/table2.md (LOCALINF_EXPERIMENT_OUT overrides the folder). The
results in RESULTS.md were run with OPENBLAS_NUM_THREADS=1: the softplus row's
warm-started refits round differently with more BLAS threads, which can flip
a test point here and there.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import localinf as li  # noqa: E402
from _common import markdown_table, out_dir, write_text  # noqa: E402
from paired import cell  # noqa: E402

BUDGETS = (5, 10, 20)
METHODS = ("fi", "iv", "random")
NAMES = {"fi": "FI", "iv": "IV", "random": "random", "none": "no removal"}
ADAM = dict(epochs=100, batch_size=32, learning_rate=1e-2)  # the ReLU recipe
ADAM_QUICK = dict(epochs=15, batch_size=32, learning_rate=1e-2)
ROWS = dict(softplus="softplus, whole network (16, 16), L-BFGS + Newton",
            relu="ReLU, last layer only (16, 16), Adam + exact last layer",
            relu_ggn="ReLU, whole network (damped GGN) (16, 16), Adam + exact last layer")
NETWORKS = tuple(ROWS)
GGN_DAMPING = 0.0  # G includes the 2 l2 I of the weight decay: positive definite as it is


def moons(seed):
    """500 / 250 / 250 rows of two moons (noise 0.3) for one seed.

    Parameters
    ----------
    seed : int

    Returns
    -------
    X, y, X_val, y_val, X_test, y_test : ndarray
        (500, 2), (500,), (250, 2), (250,), (250, 2), (250,).
    """
    from sklearn.datasets import make_moons
    X, y = make_moons(1000, noise=0.3, random_state=seed)
    return X[:500], y[:500], X[500:750], y[500:750], X[750:], y[750:]


def recipe(network, seed, quick=False):
    """The training recipe of one network and the influence computed on it.

    Parameters
    ----------
    network : {"softplus", "relu", "relu_ggn"}
    seed : int
        Seed of the initial parameters (and of Adam's minibatches).
    quick : bool, default False
        ReLU only: a short Adam run (CI).

    Returns
    -------
    fit : callable
        ``fit(X, y) -> MLP``; softplus: the first call fits from the seeded
        start and later calls start from that fit; ReLU (both rows): every
        call runs Adam from the seeded start, then sets the last layer to its
        exact minimiser (``finish="last_layer"``).
    influence : callable
        ``influence(model, X, y) -> LocalInfluence``: over the whole network
        at its minimiser (softplus), through the last layer (relu), or over the
        whole network with the damped Gauss-Newton curvature (relu_ggn).
    """
    if network == "softplus":
        kw = dict(hidden=(16, 16), activation="softplus", l2=1e-3, seed=seed)
        start = []

        def fit(X, y):
            if not start:  # the first call is the full-data fit; refits start from it
                model = li.fit_mlp(X, y, **kw)
                start.append(model.unflatten(model.theta_))
                return model
            return li.fit_mlp(X, y, init=start[0], **kw)

        return fit, lambda model, X, y: li.LocalInfluence(model, X, y)
    if network not in ("relu", "relu_ggn"):
        raise ValueError(f"unknown network {network!r}; one of {NETWORKS}")
    adam = ADAM_QUICK if quick else ADAM

    def fit(X, y):
        return li.fit_mlp(X, y, hidden=(16, 16), activation="relu", l2=1e-3, seed=seed,
                          method="adam", finish="last_layer", **adam)

    if network == "relu":
        return fit, lambda model, X, y: li.LocalInfluence(li.last_layer(model), X, y)

    def influence(model, X, y):
        with warnings.catch_warnings():  # the approximation is the point of this row
            warnings.simplefilter("ignore", li.ApproximateFitWarning)
            return li.LocalInfluence(model, X, y, curvature="ggn", at_minimiser=False,
                                     curvature_options={"damping": GGN_DAMPING, "solver": "dense"})

    return fit, influence


def one_seed(seed, network, budgets=BUDGETS, quick=False):
    """Test accuracies on one seed, untrimmed and after each method's removals.

    Parameters
    ----------
    seed : int
    network : {"softplus", "relu", "relu_ggn"}
    budgets : sequence of int
    quick : bool, default False

    Returns
    -------
    dict
        ``"none"``: untrimmed accuracy; ``(method, b)``: accuracy after removing
        the top b rows of ``method`` and refitting; ``"p_free"`` / ``"p_all"``:
        parameters influence is taken over / of the whole network;
        ``"grad_norm"``: max|grad R| of the whole network at the fit;
        ``"scores"``: the scores per method (higher is removed first).
    """
    X, y, Xv, yv, Xt, yt = moons(seed)
    fit, influence = recipe(network, seed, quick)
    model = fit(X, y)
    inf = influence(model, X, y)
    scores = {"fi": inf.fi_util(Xv, yv), "iv": -inf.influence_value(Xv, yv),
              "random": np.random.default_rng(10_000 + seed).permutation(len(y)).astype(float)}
    acc = lambda m: float(np.mean(m.predict(Xt) == yt))
    out = {"none": acc(model), "p_free": inf.p_, "p_all": model.theta_.size,
           "grad_norm": float(model.grad_norm_), "scores": scores}
    for m in METHODS:
        for b in budgets:
            keep = np.setdiff1d(np.arange(len(y)), li.select(scores[m], b))
            out[(m, b)] = acc(fit(X[keep], y[keep]))
    return out


def pct(a):
    """``"mean ± sd"`` of accuracies, in percent."""
    return f"{100 * np.mean(a):.2f} ± {100 * np.std(a):.2f}"


def section(network, res, seconds, budgets=BUDGETS):
    """Markdown for one network: the paper's columns, then the seed-paired table.

    Parameters
    ----------
    network : {"softplus", "relu", "relu_ggn"}
    res : list of dict
        :func:`one_seed` results, one per seed.
    seconds : float
        Wall time of the network's seeds.
    budgets : sequence of int

    Returns
    -------
    str
    """
    none = np.array([r["none"] for r in res])
    A = {(m, b): np.array([r[(m, b)] for r in res]) for m in METHODS for b in budgets}
    paper = [[b, f"{int(np.sum(A['fi', b] > A['iv', b]))} (ties {int(np.sum(A['fi', b] == A['iv', b]))})",
              pct(A["fi", b]), pct(A["iv", b]), pct(A["random", b])] for b in budgets]
    rows = [[0, NAMES["none"], pct(none), "", ""]]
    for b in budgets:
        for m in METHODS:
            rows.append([b, NAMES[m], pct(A[m, b]), cell(A[m, b], none),
                         "" if m == "random" else cell(A[m, b], A["random", b])])
        rows.append([b, "FI against IV", "", cell(A["fi", b], A["iv", b]), ""])
    r0 = res[0]
    curvature = (f" Curvature: the Gauss-Newton matrix G of the penalised risk, damping {GGN_DAMPING:g}, "
                 "at the Adam fit (at_minimiser=False)." if network == "relu_ggn" else "")
    return (f"## {ROWS[network]}\n\n"
            f"Untrimmed accuracy {pct(none)} %; influence over {r0['p_free']} of the "
            f"{r0['p_all']} parameters; max|grad R| of the whole network at the full-data fit: median "
            f"{np.median([r['grad_norm'] for r in res]):.1e}.{curvature} Run time {seconds:.0f} s.\n\n"
            + markdown_table(["# deleted", "# seeds FI better than IV", "Acc FI (%)", "Acc IV (%)",
                              "Acc random (%)"], paper)
            + "\n\n" + markdown_table(["# deleted", "method", "test accuracy (%)", "against no removal",
                                       "against random"], rows) + "\n")


def routes(res_ll, res_ggn, budgets=BUDGETS):
    """Markdown comparing the two ReLU rows (same networks, two influence routes).

    Parameters
    ----------
    res_ll, res_ggn : list of dict
        :func:`one_seed` results of "relu" and "relu_ggn" on the same seeds.
    budgets : sequence of int

    Returns
    -------
    str
    """
    from scipy.stats import spearmanr
    rho = {m: [spearmanr(a["scores"][m], b["scores"][m]).correlation for a, b in zip(res_ll, res_ggn)]
           for m in ("fi", "iv")}
    rows = [[b, NAMES[m], cell([r[(m, b)] for r in res_ggn], [r[(m, b)] for r in res_ll])]
            for b in budgets for m in ("fi", "iv")]
    return ("## ReLU: whole network (damped GGN) against last layer\n\n"
            "The same fitted networks, scored two ways. Spearman correlation between the two "
            f"routes' scores on the 500 training rows, median over seeds: FI_util {np.median(rho['fi']):.2f} "
            f"(range {np.min(rho['fi']):.2f} to {np.max(rho['fi']):.2f}), IV {np.median(rho['iv']):.2f} "
            f"(range {np.min(rho['iv']):.2f} to {np.max(rho['iv']):.2f}).\n\n"
            + markdown_table(["# deleted", "method", "whole network (GGN) against last layer"], rows) + "\n")


def run(seeds, quick=False, networks=NETWORKS):
    """Run every seed of each network and write results/table2.md.

    Parameters
    ----------
    seeds : int
    quick : bool, default False
        CI-sized: b = 5 only and a short Adam run.
    networks : sequence of {"softplus", "relu", "relu_ggn"}

    Returns
    -------
    results : dict
        Per network, the list of :func:`one_seed` results.
    text : str
        The markdown written.
    """
    budgets = (5,) if quick else BUDGETS
    parts, results = [], {}
    for net in networks:
        t = time.perf_counter()
        results[net] = [one_seed(s, net, budgets, quick) for s in range(seeds)]
        parts.append(section(net, results[net], time.perf_counter() - t, budgets))
        print(f"{net}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    if "relu" in results and "relu_ggn" in results:
        parts.append(routes(results["relu"], results["relu_ggn"], budgets))
    text = (f"# Table 2 analogue: two moons, MLP (16, 16), {seeds} seeds\n\n"
            "Paired cells: wins/ties/losses over the seeds, mean difference in accuracy points "
            "[95 % t interval], two-sided sign test (ties dropped). Random: one seeded random "
            "removal per seed, nested across budgets.\n\n" + "\n".join(parts))
    write_text(os.path.join(out_dir(), "table2.md"), text)
    return results, text


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="CI-sized run: 2 seeds, b = 5, short Adam")
    ap.add_argument("--networks", default=",".join(NETWORKS),
                    help=f"comma-separated subset of {','.join(NETWORKS)}")
    a = ap.parse_args()
    nets = tuple(a.networks.split(","))
    unknown = sorted(set(nets) - set(NETWORKS))
    if unknown:
        ap.error(f"--networks: unknown {unknown}; choose from {NETWORKS}")
    print(run(2 if a.quick else a.seeds, a.quick, nets)[1])
