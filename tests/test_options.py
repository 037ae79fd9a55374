"""Options that cannot be misspelt: every curvature, KFSVD and the pass-through keyword
dictionaries refuse an unknown or ill-typed option with one InputError naming it."""

import numpy as np
import pytest

import localinf as li
from helpers import make_problem


@pytest.fixture(scope="module")
def net():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = ((X[:, 0] ** 2 + X[:, 1] + 0.3 * rng.normal(size=40)) > 0.5).astype(int)
    return X, y, li.fit_mlp(X, y, hidden=(3,), activation="tanh", l2=0.02)


@pytest.mark.parametrize("curvature", ["exact", "cg", "lissa", "kfac"])
def test_a_misspelt_curvature_option_is_named(net, curvature):
    X, y, model = net
    with pytest.raises(li.InputError, match=r"curvature_options.*'dampign'.*valid options: damping"):
        li.LocalInfluence(model, X, y, curvature=curvature, curvature_options={"dampign": 0.1})


@pytest.mark.parametrize("curvature, options, match", [
    ("exact", {"damping": -1.0}, "damping must be a finite number >= 0"),
    ("exact", {"damping": float("nan")}, "damping must be a finite number >= 0"),
    ("cg", {"tol": "small"}, "tol must be a finite number > 0"),
    ("cg", {"tol": 0.0}, "tol must be a finite number > 0"),
    ("cg", {"maxiter": 2.5}, "maxiter must be an integer >= 1"),
    ("cg", {"preconditioner": "ilu"}, "preconditioner must be"),
    ("lissa", {"depth": True}, "depth must be an integer >= 1"),
    ("lissa", {"scale": -2.0}, "scale must be a finite number > 0"),
    ("kfac", {"damping": "0.1"}, "damping must be a finite number >= 0"),
])
def test_an_ill_typed_curvature_option_is_named(net, curvature, options, match):
    X, y, model = net
    with pytest.raises(li.InputError, match="curvature_options: .*" + match):
        li.LocalInfluence(model, X, y, curvature=curvature, curvature_options=options)


def test_query_curvature_options_are_checked_too(net):
    X, y, model = net
    with pytest.raises(li.InputError, match=r"query_curvature_options: unknown option\(s\) "
                                            r"\['tolerance'\] for query_curvature='cg'"):
        li.LocalInfluence(model, X, y, curvature="kfac", query_curvature="cg",
                          query_curvature_options={"tolerance": 1e-8})


@pytest.mark.parametrize("options, match", [
    ({"power": 3}, r"unknown option\(s\) \['power'\]"),
    ({"oversample": -1}, "oversample must be an integer >= 0"),
    ({"exact_input_layer": "yes"}, "exact_input_layer must be True or False"),
])
def test_kfsvd_options_are_checked(net, options, match):
    X, y, model = net
    with pytest.raises(li.InputError, match="svd_options: .*" + match):
        li.LocalInfluence(model, X, y, svd_rank=1, svd_options=options)


def test_options_without_the_choice_they_configure_are_refused(net):
    X, y, model = net
    with pytest.raises(li.InputError, match="svd_options need svd_rank"):
        li.LocalInfluence(model, X, y, svd_options={"seed": 3})
    Xg, yg = make_problem(0, 50, 2, 2)
    glm = li.LogisticRegression(l2=0.1).fit(Xg, yg)
    with pytest.raises(li.InputError, match="curvature_options: not used by the reference backend"):
        li.LocalInfluence(glm, Xg, yg, curvature_options={"damping": 0.1})


def test_an_options_dataclass_equals_the_dict(net):
    X, y, model = net
    a = li.LocalInfluence(model, X, y, curvature="cg", curvature_options={"tol": 1e-12})
    b = li.LocalInfluence(model, X, y, curvature="cg", curvature_options=li.curvature.CGOptions(tol=1e-12))
    assert np.array_equal(a.influence_value(X, y), b.influence_value(X, y))
    with pytest.raises(li.InputError, match="must be a dict or a CGOptions"):
        li.LocalInfluence(model, X, y, curvature="cg", curvature_options=li.curvature.LissaOptions())


def test_influence_keywords_passed_through_are_checked():
    X, y = make_problem(1, 40, 2, 2)
    model = li.LogisticRegression(l2=0.05).fit(X, y)
    with pytest.raises(li.InputError, match=r"influence_kw: unknown keyword\(s\) \['rtoll'\]"):
        li.trimming_scores("fi", model, X, y, X, y, influence_kw={"rtoll": 1e-6})
    with pytest.raises(li.InputError, match=r"influence_kw: unknown keyword\(s\) \['X'\]"):
        li.acquisition_scores("fi_active", model, X, y, X, influence_kw={"X": X})
    with pytest.raises(li.InputError, match=r"shapley_kw: unknown keyword\(s\) \['permutations'\]"):
        li.trimming_scores("shapley", model, X, y, X, y, fit=lambda X, y: model,
                           shapley_kw={"permutations": 3})


def test_the_exact_curvatures_rtol_always_applies(net):
    """rtol is the relative eigenvalue level treated as zero: below it H counts as
    singular for the Cholesky route too, and the pseudo-inverse drops those directions."""
    X, y, model = net
    lam = li.LocalInfluence(model, X, y).H_inv_.eigenvalues
    cut = float(np.sqrt(lam[0] * lam[-1]) / lam[-1])  # between the smallest and the largest
    default = li.LocalInfluence(model, X, y)
    cutoff = li.LocalInfluence(model, X, y, curvature_options={"rtol": cut})
    assert cutoff.H_inv_.rank < model.theta_.size
    assert not np.allclose(cutoff.fi_util(X, y), default.fi_util(X, y))


def test_shapley_seed_comes_from_the_seed_argument():
    X, y = make_problem(1, 40, 2, 2)
    model = li.LogisticRegression(l2=0.05).fit(X, y)
    with pytest.raises(li.InputError, match="shapley_kw: 'seed'"):
        li.trimming_scores("shapley", model, X, y, X, y, fit=lambda X, y: model,
                           shapley_kw={"seed": 3})
