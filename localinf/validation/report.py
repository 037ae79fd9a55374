"""Verification report: ``python -m localinf.validate [--backend MODULE:FACTORY] [--out DIR]``.

Runs the validation checks (:mod:`localinf.validation`) on seeded problems and
writes ``DIR/validation-report.md`` with the worst measured error per
property next to its tolerance, plus PNG figures when matplotlib is installed.
Exit status 0 when every check passes, 1 otherwise, 2 for bad arguments.

``--backend pkg.module:factory`` validates a backend of your own: ``factory(model,
X, y)`` must return an object with :class:`~localinf.LocalInfluence`'s methods.
It is checked against the reference backend, refits, retraining and the
metamorphic relations; the approximation checks (KFSVD, CG, LiSSA) concern
localinf's own options and run only for the default backend.
"""

import argparse
import importlib
import os
import sys
import time
import warnings

import numpy as np

from .._core.io import save_figure, write_text
from ..exceptions import InSampleWarning, LocalInfluenceError
from ..measures.local_influence import LocalInfluence
from ..models.fit_mlp import fit_mlp
from ..models.glm import SoftmaxRegression
from .approximations import iterative_solvers, kfsvd_convergence
from .backends import backends_agree
from .check import fit_glm
from .external import statsmodels_agreement
from .metamorphic import invariance_iff_range, metamorphic
from .refits import first_order_prediction, refit_derivatives
from .retraining import lds, leave_one_out

PROFILES = {"fast": 2, "thorough": 10}  # seeded problems per property


def _data(seed, n, d, K, signal=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.exp(rng.uniform(-1, 1, size=d))
    W = rng.normal(size=(d, K)) * signal / np.sqrt(d)
    Z = X @ W
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    y = (P.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    y[:K] = np.arange(K)
    return X, y


def run_checks(make=None, profile="fast", progress=None):
    """All checks on ``PROFILES[profile]`` seeded problems each; returns a list of Check.

    Some checks compare two computations on the training rows themselves (any
    data serve to compare backends), so the in-sample warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InSampleWarning)
        return _run_checks(make, profile, progress)


def _run_checks(make, profile, progress):
    reps = PROFILES[profile]
    own = make is None
    make_ag = make or (lambda m, X, y: LocalInfluence(m, X, y, backend="autograd"))
    make = make or LocalInfluence
    checks = []
    say = progress or (lambda msg: None)
    for r in range(reps):
        K = 2 + r % 3
        X, y = _data(r, 40, 3, K)
        model = fit_glm(X, y, 0.01)
        say(f"backends agree (problem {r + 1}/{reps})")
        checks += backends_agree(X, y, model, make=make_ag)
        fit = lambda X, y: fit_glm(X, y, 0.01)
        say(f"refits (problem {r + 1}/{reps})")
        checks += refit_derivatives(X, y, fit, 0, make=make)
        Xv, yv = _data(100 + r, 200, 3, K)
        say(f"first-order prediction (problem {r + 1}/{reps})")
        checks.append(first_order_prediction(X, y, fit, 1, Xv, yv, make=make))
        say(f"metamorphic relations (problem {r + 1}/{reps})")
        checks += metamorphic(X, y, 0.01, make=make)
        checks += metamorphic(X, y, 0.0, make=make)
        say(f"Theorem 1 (problem {r + 1}/{reps})")
        rng = np.random.default_rng(r)
        J = np.linalg.qr(rng.normal(size=(3, 3)))[0] @ np.diag([3.0, 1.0, 0.3])
        checks.append(invariance_iff_range(X, y, 0.01, J, make=make))
        X2, y2 = _data(300 + r, 60, 2, 3)  # K - 1 >= d: every pair is invariant
        checks.append(invariance_iff_range(X2, y2, 0.01, np.array([[2.0, 0.5], [0.0, 0.7]]), make=make))
        say(f"statsmodels (problem {r + 1}/{reps})")
        checks += statsmodels_agreement(*_data(200 + r, 150, 3, K))
    X, y = _data(8, 200, 3, 2)
    Xv, yv = _data(9, 100, 3, 2)
    fit2 = lambda X, y: fit_glm(X, y, 0.01)
    say("leave-one-out retraining")
    checks += leave_one_out(X, y, fit2, Xv, yv, make=make)
    say("LDS on random halves")
    checks.append(lds(X[:150], y[:150], fit2, Xv, yv, make=make,
                        n_subsets=40 if profile == "fast" else 100))
    if own:
        rng = np.random.default_rng(4)
        Xn = rng.normal(size=(30, 4))
        yn = ((Xn[:, 0] ** 2 + Xn[:, 1] - Xn[:, 2] + 0.3 * rng.normal(size=30)) > 0.5).astype(int)
        net = fit_mlp(Xn, yn, hidden=(4,), activation="tanh", l2=3e-3)
        say("KFSVD truncation")
        checks += kfsvd_convergence(Xn, yn, net, Xn[::2], yn[::2])
        checks += kfsvd_convergence(Xn, yn, net, Xn[::2], yn[::2], exact_input_layer=True)
        say("CG and LiSSA")
        Xs, ys = _data(3, 80, 3, 3)
        checks += iterative_solvers(Xs, ys, SoftmaxRegression(l2=0.05).fit(Xs, ys))
    return checks


def write_report(checks, out_dir, backend_name, profile, seconds):
    """Markdown table (worst error per property) and figures; returns the report path."""
    os.makedirs(out_dir, exist_ok=True)
    by_name = {}
    for c in checks:
        by_name.setdefault(c.name, []).append(c)
    lines = ["# localinf verification report", "",
             f"Backend: `{backend_name}`; profile: {profile}; {len(checks)} checks in {seconds:.0f} s; "
             f"{sum(c.passed for c in checks)} passed.", "",
             "Each row: the property, how many cases ran, the worst measured error, the tolerance "
             "derived for it (see `localinf.validation`), and the detail of the worst case.", "",
             "| property | cases | worst error | tolerance | status | worst case |",
             "|---|---|---|---|---|---|"]
    for name, cs in by_name.items():
        worst = max(cs, key=lambda c: (not c.passed, c.error - c.tol))
        status = "pass" if all(c.passed for c in cs) else "FAIL"
        detail = worst.detail.replace("|", "\\|")  # keep the markdown table intact
        lines.append(f"| {name} | {len(cs)} | {worst.error:.2e} | {worst.tol:.1e} | {status} | "
                     f"{detail} |")
    figs = _figures(checks, out_dir)
    if figs:
        lines += [""] + [f"![{f}]({f})" for f in figs]
    path = os.path.join(out_dir, "validation-report.md")
    write_text(path, "\n".join(lines) + "\n")
    return path


def _figures(checks, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    names = []
    loo = [c for c in checks if c.name.startswith("leave-one-out") and "predicted" in c.extra]
    if loo:
        fig, axes = plt.subplots(1, len(loo), figsize=(4.5 * len(loo), 4))
        for ax, c in zip(np.atleast_1d(axes), loo):
            ax.scatter(c.extra["actual"], c.extra["predicted"], s=8)
            lim = [min(np.min(c.extra["actual"]), np.min(c.extra["predicted"])),
                   max(np.max(c.extra["actual"]), np.max(c.extra["predicted"]))]
            ax.plot(lim, lim, "k--", lw=0.8)
            ax.set_xlabel("change after deleting the point (retrained)")
            ax.set_ylabel("first-order prediction")
            ax.set_title(c.name)
        fig.tight_layout()
        names.append("leave-one-out.png")
        save_figure(fig, os.path.join(out_dir, names[-1]))
        plt.close(fig)
    kf = [c for c in checks if "m_err" in c.extra]
    if kf:
        fig, ax = plt.subplots(figsize=(4.5, 4))
        for c, tag in zip(kf, ("", ", input layer exact")):
            ax.semilogy(c.extra["k"], np.maximum(c.extra["m_err"], 1e-17), "o-",
                        label=f"||M - M_k|| / ||M||{tag}")
            ax.semilogy(c.extra["k"], np.maximum(c.extra["fi_err"], 1e-17), "s--",
                        label=f"FI_util rel. error{tag}")
        ax.set_xlabel("rank k")
        ax.legend()
        ax.set_title("KFSVD truncation")
        fig.tight_layout()
        names.append("kfsvd.png")
        save_figure(fig, os.path.join(out_dir, names[-1]))
        plt.close(fig)
    return names


def _load_factory(spec):
    mod, _, attr = spec.partition(":")
    if not mod or not attr:
        raise ValueError(f"--backend must look like 'package.module:factory'; got {spec!r}")
    try:
        return getattr(importlib.import_module(mod), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"--backend {spec!r}: {exc}") from None


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m localinf.validate", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", help="package.module:factory of the backend to validate")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="fast")
    ap.add_argument("--out", default="localinf-validation", help="output folder")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    try:
        make = _load_factory(args.backend) if args.backend else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    say = (lambda msg: None) if args.quiet else (lambda msg: print(f"  {msg}", file=sys.stderr))
    t = time.perf_counter()
    try:
        checks = run_checks(make, args.profile, progress=say)
    except LocalInfluenceError as exc:
        print(f"error: the backend failed: {exc}", file=sys.stderr)
        return 1
    path = write_report(checks, args.out, args.backend or "localinf (reference and autograd)",
                        args.profile, time.perf_counter() - t)
    failed = [c for c in checks if not c.passed]
    print(f"{len(checks) - len(failed)}/{len(checks)} checks passed; report: {path}")
    for c in failed:
        print(f"FAILED {c.name}: error {c.error:.2e} > tolerance {c.tol:.1e} ({c.detail})")
    return 0 if not failed else 1

