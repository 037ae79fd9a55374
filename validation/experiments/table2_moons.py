"""Table 2 analogue: trimming a two-hidden-layer network on two moons, with baselines.

scikit-learn's two moons (noise 0.3), 500 training / 250 validation / 250
test points per seed, hidden layers (16, 16), weight decay l2 = 1e-3. Two
networks, each scored by FI_util and by IV, against random removal and no
removal (seed-paired: wins/ties/losses, mean difference with a 95 % interval,
sign test):

* ``softplus``: the smooth counterpart of ReLU, fitted by L-BFGS and Newton to
  the minimiser of the whole network's risk; influence over all parameters.
  Refits after trimming start from the full-data fit.
* ``relu``: the paper's activation, fitted as such networks usually are: Adam
  from a seeded random start (``fit_mlp(..., method="adam", finish=False)``;
  the full-batch finish stops on a kink of the ReLU risk and is refused).
  Influence goes through the last layer (:func:`localinf.last_layer`), as the
  paper does for its image networks. FI_util through the last layer assumes
  that layer minimises the risk with the rest frozen; Adam leaves it short of
  that, so :func:`refit_last_layer` solves that convex problem exactly:
  with the hidden layers fixed, the last layer's risk is a ridge logistic
  regression on the last hidden activations (plus a constant column for the
  bias, penalised like fit_mlp's biases), which Newton's method solves to
  round-off. This changes only the last layer and is the minimiser the
  restricted influence formulas assume. Refits after trimming repeat the same
  recipe (same seed, Adam from scratch, exact last layer).

Run:  python validation/experiments/table2_moons.py [--seeds 20] [--quick]
Writes results/table2.md (LOCALINF_EXPERIMENT_OUT overrides the folder).
"""

import argparse
import os
import sys
import time

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
            relu="ReLU, last layer only (16, 16), Adam + exact last layer")


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


def refit_last_layer(model, X, y):
    """Set the last layer of a binary ``fit_mlp`` network to its exact minimiser.

    With the hidden layers frozen, ``R = mean loss + l2 ||theta||^2`` restricted
    to the last layer ``(W_L, b_L)`` is the risk of a ridge logistic regression
    on the features ``(h_{L-1}(x), 1)`` with every coefficient penalised (fit_mlp
    penalises biases): strictly convex, solved by Newton's method to round-off.

    Parameters
    ----------
    model : MLP
        Binary (one output unit), ``penalize_bias=True``; modified in place.
    X : ndarray (n, d)
    y : ndarray of int (n,)

    Returns
    -------
    MLP
        ``model``, with ``theta_`` and ``grad_norm_`` updated.
    """
    inputs, _ = model.forward_with_offsets(model.unflatten(model.theta_), X)
    Z = np.column_stack([np.asarray(inputs[-1]), np.ones(len(y))])
    glm = li.LogisticRegression(l2=model.l2, fit_intercept=False).fit(Z, y)
    theta = model.theta_.copy()
    theta[-Z.shape[1]:] = glm.theta_  # flat order of the last layer: W_L (a, 1), then b_L
    model.theta_ = theta
    model.grad_norm_ = float(np.max(np.abs(model.risk_on(X, y).grad())))  # whole network's
    return model


def recipe(activation, seed, quick=False):
    """The training recipe of one network and the model influence is taken of.

    Parameters
    ----------
    activation : {"softplus", "relu"}
    seed : int
        Seed of the initial parameters (and of Adam's minibatches).
    quick : bool, default False
        ReLU only: a short Adam run (CI).

    Returns
    -------
    fit : callable
        ``fit(X, y) -> MLP``; softplus: the first call fits from the seeded
        start and later calls start from that fit; ReLU: every call runs Adam
        from the seeded start, then :func:`refit_last_layer`.
    restrict : callable
        ``restrict(model)``: the model passed to ``LocalInfluence`` (the
        network itself, or :func:`localinf.last_layer` of it).
    """
    if activation == "softplus":
        kw = dict(hidden=(16, 16), activation="softplus", l2=1e-3, seed=seed)
        start = []

        def fit(X, y):
            if not start:  # the first call is the full-data fit; refits start from it
                model = li.fit_mlp(X, y, **kw)
                start.append(model.unflatten(model.theta_))
                return model
            return li.fit_mlp(X, y, init=start[0], **kw)

        return fit, lambda model: model
    adam = ADAM_QUICK if quick else ADAM

    def fit(X, y):
        model = li.fit_mlp(X, y, hidden=(16, 16), activation="relu", l2=1e-3, seed=seed,
                           method="adam", finish=False, **adam)
        return refit_last_layer(model, X, y)

    return fit, li.last_layer


def one_seed(seed, activation, budgets=BUDGETS, quick=False):
    """Test accuracies on one seed, untrimmed and after each method's removals.

    Parameters
    ----------
    seed : int
    activation : {"softplus", "relu"}
    budgets : sequence of int
    quick : bool, default False

    Returns
    -------
    dict
        ``"none"``: untrimmed accuracy; ``(method, b)``: accuracy after removing
        the top b rows of ``method`` and refitting; ``"p_free"`` / ``"p_all"``:
        parameters influence is taken over / of the whole network.
    """
    X, y, Xv, yv, Xt, yt = moons(seed)
    fit, restrict = recipe(activation, seed, quick)
    model = fit(X, y)
    inf = li.LocalInfluence(restrict(model), X, y)
    scores = {"fi": inf.fi_util(Xv, yv), "iv": -inf.influence_value(Xv, yv),
              "random": np.random.default_rng(10_000 + seed).permutation(len(y)).astype(float)}
    acc = lambda m: float(np.mean(m.predict(Xt) == yt))
    out = {"none": acc(model), "p_free": inf.p_, "p_all": model.theta_.size}
    for m in METHODS:
        for b in budgets:
            keep = np.setdiff1d(np.arange(len(y)), li.select(scores[m], b))
            out[(m, b)] = acc(fit(X[keep], y[keep]))
    return out



def pct(a):
    """``"mean ± sd"`` of accuracies, in percent."""
    return f"{100 * np.mean(a):.2f} ± {100 * np.std(a):.2f}"


def section(activation, res, seconds, budgets=BUDGETS):
    """Markdown for one network: the paper's columns, then the seed-paired table.

    Parameters
    ----------
    activation : {"softplus", "relu"}
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
    return (f"## {ROWS[activation]}\n\n"
            f"Untrimmed accuracy {pct(none)} %; influence over {r0['p_free']} of the "
            f"{r0['p_all']} parameters. Run time {seconds:.0f} s.\n\n"
            + markdown_table(["# deleted", "# seeds FI better than IV", "Acc FI (%)", "Acc IV (%)",
                              "Acc random (%)"], paper)
            + "\n\n" + markdown_table(["# deleted", "method", "test accuracy (%)", "against no removal",
                                       "against random"], rows) + "\n")


def run(seeds, quick=False, activations=("softplus", "relu")):
    """Run every seed of each network and write results/table2.md.

    Parameters
    ----------
    seeds : int
    quick : bool, default False
        CI-sized: b = 5 only and a short Adam run.
    activations : sequence of {"softplus", "relu"}

    Returns
    -------
    results : dict
        Per activation, the list of :func:`one_seed` results.
    text : str
        The markdown written.
    """
    budgets = (5,) if quick else BUDGETS
    parts, results = [], {}
    for act in activations:
        t = time.perf_counter()
        results[act] = [one_seed(s, act, budgets, quick) for s in range(seeds)]
        parts.append(section(act, results[act], time.perf_counter() - t, budgets))
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
    a = ap.parse_args()
    print(run(2 if a.quick else a.seeds, a.quick)[1])
