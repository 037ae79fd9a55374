"""Dask collections: the fit and the per-row measures agree with the in-memory path.

The in-memory computation is the independent reference (validated elsewhere);
every lazy result is compared with it to 1e-9 relative (against the largest
value of a column that changes sign), on dask arrays and on dask DataFrames,
with the threaded scheduler and on a small distributed LocalCluster.
"""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import localinf as li
from localinf.exceptions import InputError, PerfectSeparationError
from localinf.measures import lazy_blocks, rank_passes
from localinf.measures.lazy import DaskLocalInfluence
from localinf.models.glm_dask import fit_dask

da = pytest.importorskip("dask.array")
dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

RTOL = 1e-9


def close(a, b, rtol=RTOL):
    """Elementwise relative agreement, measured against the column's scale where it has zeros."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape
    scale = np.maximum(np.abs(b), 1e-3 * np.abs(b).max(axis=0, keepdims=True) if b.size else 0)
    assert np.all(np.abs(a - b) <= rtol * np.maximum(scale, np.finfo(float).tiny)), \
        np.max(np.abs(a - b) / np.maximum(scale, np.finfo(float).tiny))


def problem(n=1200, d=3, K=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    eta = X @ rng.normal(size=(d, K - 1)) + rng.logistic(size=(n, K - 1))
    y = (eta[:, 0] > 0).astype(int) if K == 2 else np.argmax(np.column_stack([np.zeros(n), eta]), axis=1)
    return X, y


@pytest.fixture(autouse=True)
def threaded():
    with dask.config.set(scheduler="threads"):
        yield


@pytest.fixture(scope="module")
def binary():
    X, y = problem()
    Xt, yt, Xv, yv = X[:1000], y[:1000], X[1000:], y[1000:]
    model = li.LogisticRegression(l2=1e-3).fit(Xt, yt)
    return Xt, yt, Xv, yv, model, li.LocalInfluence(model, Xt, yt)


def test_fit_matches_in_memory_binary_and_softmax_with_weights():
    X, y = problem(n=900, K=3, seed=1)
    w = np.random.default_rng(2).integers(0, 3, size=900).astype(float)
    Xd, yd, wd = (da.from_array(v, chunks=200) for v in (X, y, w))
    for cls, l2, ys, yds in ((li.LogisticRegression, 1e-3, (y > 0).astype(int), (yd > 0).astype(int)),
                             (li.SoftmaxRegression, 1e-2, y, yd)):
        ref = cls(l2=l2).fit(X, ys, sample_weight=w)
        lazy = fit_dask(cls(l2=l2), da.from_array(X, chunks=(200, 3)), yds, wd)
        close(lazy.theta_, ref.theta_)
        assert list(lazy.classes_) == list(ref.classes_) and lazy.n_train_ == 900
        assert lazy.converged_ and lazy.n_passes_ >= 2


def test_measures_match_in_memory_on_a_dask_array(binary):
    Xt, yt, Xv, yv, model, inf = binary
    Xd, yd = da.from_array(Xt, chunks=(170, 3)), da.from_array(yt, chunks=170)
    lazy = DaskLocalInfluence(model, Xd, yd)
    bound = lazy.against(Xv, yv)
    fi = bound.fi_util()
    assert isinstance(fi, da.Array) and fi.chunks == (Xd.chunks[0],)
    close(fi.compute(), inf.fi_util(Xv, yv))
    close(bound.influence_value().compute(), inf.influence_value(Xv, yv))
    for name in ("self_influence", "leverage", "cooks_distance", "resid_pearson", "resid_deviance",
                 "resid_standardized", "resid_studentized", "dffits", "dffits_internal",
                 "cook_local_influence", "dfbetas"):
        close(getattr(lazy, name)().compute(), getattr(inf, name)())
    table, ref = bound.summary_frame().compute(), inf.summary_frame(Xv, yv)
    assert list(table.columns) == [c for c in ref.columns if c != "rank"]
    assert (table.index == ref.index).all()
    for col in table.columns:
        if table[col].dtype == bool:
            assert (table[col] == ref[col]).all(), col
        else:
            close(table[col], ref[col])
    top = bound.top(4)
    assert list(top.index) == list(ref.sort_values("rank").index[:4])
    assert list(top["rank"]) == [1, 2, 3, 4]
    close(lazy.classic_frame().compute(), inf.classic_frame())


def test_dataframe_columns_are_matched_by_name_and_labels_kept():
    X, y = problem(n=800, d=3, K=3, seed=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"], index=[f"r{i}" for i in range(800)])
    labels = pd.Series(np.array(["u", "v", "w"])[y], index=frame.index)
    model = li.SoftmaxRegression(l2=1e-2).fit(frame.iloc[:700], labels.iloc[:700])
    inf = li.LocalInfluence(model, frame.iloc[:700], labels.iloc[:700])
    ddf = dd.from_pandas(frame.iloc[:700][["c", "a", "b"]].assign(t=labels.iloc[:700]), npartitions=3,
                         sort=False)
    lazy_model = fit_dask(li.SoftmaxRegression(l2=1e-2), ddf[["a", "b", "c"]], ddf["t"])
    close(lazy_model.theta_, model.theta_)
    assert list(lazy_model.feature_names_in_) == ["a", "b", "c"]
    lazy = DaskLocalInfluence(model, ddf[["c", "b", "a"]], ddf["t"])  # any column order
    Xv, yv = frame.iloc[700:][["b", "c", "a"]], labels.iloc[700:]
    fi = lazy.fi_util(Xv, yv)
    assert isinstance(fi, dd.Series) and fi.name == "fi_util"
    got, ref = fi.compute(), inf.fi_util(Xv, yv)
    assert (got.index == ref.index).all()
    close(got, ref)
    table, ref = lazy.summary_frame(Xv, yv, flag_top=7).compute(), inf.summary_frame(Xv, yv, flag_top=7)
    assert (table.index == ref.index).all() and table["flagged"].sum() == 7
    for col in table.columns:
        close(table[col], ref[col]) if table[col].dtype != bool else \
            np.testing.assert_array_equal(table[col], ref[col])


def test_a_small_local_cluster(binary):
    distributed = pytest.importorskip("distributed")
    Xt, yt, Xv, yv, model, inf = binary
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster):
        Xd, yd = da.from_array(Xt, chunks=(250, 3)), da.from_array(yt, chunks=250)
        lazy_model = fit_dask(li.LogisticRegression(l2=1e-3), Xd, yd)
        close(lazy_model.theta_, model.theta_)
        lazy = DaskLocalInfluence(lazy_model, Xd, yd)
        close(lazy.fi_util(Xv, yv).compute(), inf.fi_util(Xv, yv), rtol=1e-8)
        close(lazy.leverage().compute(), inf.leverage())
        close(lazy.fi_active(Xv[:20]), inf.fi_active(Xv[:20]), rtol=1e-8)


AGGS = [("trimmed_mean", None), ("median", None), ("quantile", 0.25), ("mean", None)]


@pytest.fixture(params=["gathered whole", "searched"])
def search(request, monkeypatch):
    """The default (these sets are small enough to gather), or the search forced to many passes."""
    if request.param == "searched":  # and the pool and the rows of a block in several parts
        monkeypatch.setattr(rank_passes, "MAX_GATHER", 64)
        monkeypatch.setattr(rank_passes, "MAX_CELLS", 256)
        monkeypatch.setattr(lazy_blocks, "ACTIVE_POOL", 7)
        monkeypatch.setattr(lazy_blocks, "ACTIVE_VALUES", 64)
    return request.param


def test_fi_active_equals_in_memory_with_and_without_weights(binary, search):
    Xt, yt, Xv, yv, model, inf = binary
    w = np.random.default_rng(6).integers(0, 3, size=yt.size).astype(float)
    wmodel = li.LogisticRegression(l2=1e-3).fit(Xt, yt, sample_weight=w)
    winf = li.LocalInfluence(wmodel, Xt, yt, sample_weight=w)
    Xd, yd, wd = da.from_array(Xt, chunks=(230, 3)), da.from_array(yt, chunks=230), da.from_array(w, chunks=230)
    pool = np.vstack([Xv[:30], Xv[:2]])  # repeated pool rows: equal values
    for lazy, ref in ((DaskLocalInfluence(model, Xd, yd), inf),
                      (DaskLocalInfluence(wmodel, Xd, yd, sample_weight=wd), winf)):
        for agg, q in AGGS:
            got, want = lazy.fi_active(pool, agg=agg, q=q), ref.fi_active(pool, agg=agg, q=q)
            close(got, want, rtol=1e-10)
            if agg in ("median", "quantile"):  # order statistics: FI values, not sums
                assert np.array_equal(got[-2:], got[:2])


def test_fi_active_on_a_dataframe_keeps_the_pool_labels_and_matches_by_name(search):
    X, y = problem(n=900, d=3, K=4, seed=8)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = li.SoftmaxRegression(l2=1e-2).fit(frame.iloc[:800], y[:800])
    inf = li.LocalInfluence(model, frame.iloc[:800], y[:800])
    ddf = dd.from_pandas(frame.iloc[:800].assign(t=y[:800]), npartitions=3)
    lazy = DaskLocalInfluence(model, ddf[["b", "a", "c"]], ddf["t"])
    pool = frame.iloc[800:830][["c", "a", "b"]]
    got, want = lazy.fi_active(pool), inf.fi_active(pool)
    assert isinstance(got, pd.Series) and got.name == "fi_active" and (got.index == pool.index).all()
    close(got, want, rtol=1e-10)
    close(lazy.fi_active(dd.from_pandas(pool, npartitions=2), agg="median"), inf.fi_active(pool, agg="median"))


def test_fi_active_refusals(binary):
    Xt, yt, Xv, yv, model, _ = binary
    Xd, yd = da.from_array(Xt, chunks=(250, 3)), da.from_array(yt, chunks=250)
    w = da.from_array(np.full(yt.size, 0.5), chunks=250)
    lazy = DaskLocalInfluence(li.LogisticRegression(l2=1e-3).fit(Xt, yt, sample_weight=np.full(yt.size, 0.5)),
                              Xd, yd, sample_weight=w)
    with pytest.raises(InputError, match="^sample_weight: fi_active .* integer frequency weights"):
        lazy.fi_active(Xv[:3])
    lazy = DaskLocalInfluence(model, Xd, yd)
    with pytest.raises(InputError, match="agg must be one of"):
        lazy.fi_active(Xv[:3], agg="max")
    with pytest.raises(InputError, match="^q"):
        lazy.fi_active(Xv[:3], agg="quantile")
    with pytest.raises(InputError, match="X_pool"):
        lazy.fi_active(Xv[:3, :2])


def test_a_dask_validation_set(binary):
    Xt, yt, Xv, yv, model, inf = binary
    lazy = DaskLocalInfluence(model, da.from_array(Xt, chunks=(300, 3)), da.from_array(yt, chunks=300))
    fi = lazy.fi_util(da.from_array(Xv, chunks=(50, 3)), da.from_array(yv, chunks=50))
    close(fi.compute(), inf.fi_util(Xv, yv))


def test_bad_inputs_name_the_argument(binary):
    Xt, yt, Xv, yv, model, _ = binary
    Xd, yd = da.from_array(Xt, chunks=(250, 3)), da.from_array(yt, chunks=250)
    bad = Xt.copy()
    bad[600, 1] = np.nan
    with pytest.raises(InputError, match=r"^X \(block 2\) contains NaN"):
        fit_dask(li.LogisticRegression(), da.from_array(bad, chunks=(250, 3)), yd)
    with pytest.raises(InputError, match=r"^X \(block 2\) contains NaN"):
        DaskLocalInfluence(model, da.from_array(bad, chunks=(250, 3)), yd)
    unknown = Xd[Xd[:, 0] > -10]
    with pytest.raises(InputError, match="^X has unknown chunk sizes"):
        fit_dask(li.LogisticRegression(), unknown, yd)
    with pytest.raises(InputError, match="^y must have shape"):
        fit_dask(li.LogisticRegression(), Xd, yd[:900])
    frame = dd.from_pandas(pd.DataFrame(Xt, columns=["a", "b", "c"]).assign(t=yt), npartitions=2)
    named = li.LogisticRegression(l2=1e-3).fit(pd.DataFrame(Xt, columns=["a", "b", "c"]), yt)
    with pytest.raises(InputError, match=r"^X: .*missing 'c'.*not in the training data 'd'"):
        DaskLocalInfluence(named, frame[["a", "b"]].assign(d=1.0), frame["t"])
    with pytest.raises(InputError, match="^X is a DataFrame, but the model was fitted on an array"):
        DaskLocalInfluence(model, frame.rename(columns={"a": "x"})[["x", "b", "c"]], frame["t"])
    with pytest.raises(InputError, match="^y .*labels"):
        DaskLocalInfluence(model, Xd, yd + 5)
    with pytest.raises(InputError, match="^model: its parameters do not minimise"):
        DaskLocalInfluence(model, Xd[:500], yd[:500])
    with pytest.raises(InputError, match="^curvature"):
        DaskLocalInfluence(model, Xd, yd, curvature="cg")


def test_separable_classes_are_refused_as_in_memory():
    X = np.linspace(-3, 3, 400)[:, None]
    y = (X[:, 0] > 0).astype(int)
    with pytest.raises(PerfectSeparationError):
        li.LogisticRegression().fit(X, y)
    with pytest.raises(PerfectSeparationError):
        fit_dask(li.LogisticRegression(), da.from_array(X, chunks=(100, 1)), da.from_array(y, chunks=100))


def test_dispatch_from_the_public_classes(binary):
    Xt, yt, Xv, yv, model, inf = binary
    Xd, yd = da.from_array(Xt, chunks=(250, 3)), da.from_array(yt, chunks=250)
    lazy_model = li.LogisticRegression(l2=1e-3).fit(Xd, yd)
    lazy = li.LocalInfluence(lazy_model, Xd, yd)
    assert isinstance(lazy, DaskLocalInfluence)  # not read whole into numpy
    assert hasattr(lazy_model, "n_passes_")
    close(lazy.fi_util(Xv, yv).compute(), inf.fi_util(Xv, yv))


def test_localinf_imports_without_dask():
    code = "import sys; sys.modules['dask'] = None; import localinf; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_command_line_reads_a_parquet_dataset_lazily(tmp_path, capsys):
    import json
    from localinf.cli import main
    X, y = problem(n=900, d=3, seed=4)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(t=np.where(y == 1, "yes", "no"))
    (tmp_path / "train").mkdir()
    for k in range(3):
        frame.iloc[k * 250:(k + 1) * 250].to_parquet(tmp_path / "train" / f"p{k}.parquet", index=False)
    frame.iloc[750:].to_parquet(tmp_path / "val.parquet", index=False)
    out = tmp_path / "out"
    args = ["diagnose", str(tmp_path / "train" / "*.parquet"), "--target", "t", "--val-file",
            str(tmp_path / "val.parquet"), "--out", str(out), "--top", "3", "--json"]
    assert main(args) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_train"] == 750 and [r["rank"] for r in report["top"]] == [1, 2, 3]
    written = pd.read_parquet(out / "influence.parquet")
    model = li.LogisticRegression(l2=1e-3).fit(frame.iloc[:750][["a", "b", "c"]], frame.t[:750])
    ref = li.LocalInfluence(model, frame.iloc[:750][["a", "b", "c"]], frame.t[:750]).fi_util(
        frame.iloc[750:][["a", "b", "c"]], frame.t[750:])
    close(written["fi_util"].to_numpy(), ref.to_numpy())
    assert main(["diagnose", str(tmp_path / "train"), "--target", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--target 'nope'" in err[0]
    assert main(["trim", str(tmp_path / "train"), "--target", "t"]) == 2
    assert "only `localinf diagnose`" in capsys.readouterr().err


def test_frequency_weights(binary):
    Xt, yt, Xv, yv, _, _ = binary
    w = np.random.default_rng(5).integers(0, 4, size=yt.size).astype(float)
    model = li.LogisticRegression(l2=1e-3).fit(Xt, yt, sample_weight=w)
    inf = li.LocalInfluence(model, Xt, yt, sample_weight=w)
    Xd, yd, wd = da.from_array(Xt, chunks=(300, 3)), da.from_array(yt, chunks=300), da.from_array(w, chunks=300)
    lazy = DaskLocalInfluence(model, Xd, yd, sample_weight=wd)
    assert lazy.n_obs_ == w.sum()
    close(lazy.fi_util(Xv, yv).compute(), inf.fi_util(Xv, yv))
    close(lazy.leverage().compute(), inf.leverage())
    close(lazy.cooks_distance().compute(), inf.cooks_distance())


def test_numpy_X_with_dask_y_names_X():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 2))
    yd = da.from_array((X[:, 0] > 0).astype(int), chunks=20)
    with pytest.raises(li.exceptions.InputError, match=r"^X: a ndarray with the other inputs in dask"):
        li.LogisticRegression().fit(X, yd)


@pytest.mark.parametrize("method", ["fi", "influence", "loo_params"])
def test_whole_set_methods_refused_with_a_localinf_error(binary, method):
    Xt, yt, Xv, yv, model, inf = binary
    lazy = li.LocalInfluence(model, da.from_array(Xt, chunks=(250, 3)), da.from_array(yt, chunks=250))
    with pytest.raises(li.exceptions.InputError, match=f"^{method} is not offered on dask"):
        getattr(lazy, method)(Xv[:3])
