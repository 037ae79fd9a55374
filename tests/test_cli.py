"""The `localinf` command and the statistician-facing results frame."""

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import localinf as li
from localinf import cli
from helpers import make_problem


def test_main_job_on_embedded_data(tmp_path, capsys):
    assert cli.main(["--out", str(tmp_path), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "breast cancer" in out and "fi_util" in out
    table = pd.read_csv(tmp_path / "influence.csv", index_col="row")
    assert list(table["rank"][:3]) == [1, 2, 3]
    assert table["fi_util"].is_monotonic_decreasing
    assert (tmp_path / "influence.png").stat().st_size > 0


def test_csv_with_a_categorical_column_and_json(tmp_path, capsys):
    X, y = make_problem(3, 120, 2, 3)
    frame = pd.DataFrame(X, columns=["a", "b"])
    frame["group"] = np.where(X[:, 0] > 0, "north", "south")
    frame["outcome"] = np.array(["low", "mid", "high"])[y]
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    assert cli.main(["diagnose", str(path), "--target", "outcome", "--json", "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["classes"] == ["high", "low", "mid"] and summary["n_features"] == 3
    assert summary["model"] == "SoftmaxRegression" and len(summary["top"]) == 10


@pytest.mark.parametrize("argv, match", [
    (["diagnose", "missing.csv", "--target", "y"], "not found"),
    (["diagnose", "{csv}", "--target", "nope"], "not a column"),
    (["diagnose", "{csv}", "--target", "y", "--val-frac", "1.5"], "val-frac"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, argv, match):
    path = tmp_path / "d.csv"
    pd.DataFrame({"x": [0.1, 0.5, 0.9, 1.3] * 5, "y": [0, 1, 0, 1] * 5}).to_csv(path, index=False)
    argv = [a.replace("{csv}", str(path)) for a in argv] + ["--out", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1 and "Traceback" not in err


def test_leverage_is_the_glm_hat_value():
    X, y = make_problem(5, 90, 3, 2)
    inf = li.LocalInfluence(li.LogisticRegression().fit(X, y), X, y)
    glm = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-14)
    assert np.allclose(inf.leverage(), glm.get_influence().hat_matrix_diag, rtol=1e-8)


def test_summary_frame_keeps_the_index_and_agrees_with_the_methods():
    X, y = make_problem(6, 60, 2, 2)
    frame = pd.DataFrame(X, index=[f"id{i}" for i in range(60)], columns=["u", "v"])
    model = li.LogisticRegression(l2=0.01).fit(X, y)
    inf = li.LocalInfluence(model, frame, y)
    s = inf.summary_frame(X[:20], y[:20], flag_top=5)
    assert list(s.index) == list(frame.index)
    assert np.allclose(s["fi_util"], inf.fi_util(X[:20], y[:20]))
    assert np.allclose(s["iv"], inf.influence_value(X[:20], y[:20]))
    assert s["flagged"].sum() == 5 and s.loc[s["rank"] == 1, "flagged"].all()


def test_plots_return_figures():
    import matplotlib
    matplotlib.use("Agg")
    X, y = make_problem(7, 60, 2, 2)
    fit = lambda X, y: li.LogisticRegression(l2=0.01).fit(X, y)
    model = fit(X, y)
    inf = li.LocalInfluence(model, X, y)
    frame = inf.summary_frame(X[:20], y[:20])
    for fig in (li.plot_index(frame), li.plot_fi_leverage(frame),
                li.plot_trimming_curve(li.trimming_curve(fit, X, y, X, y, X, y, [0, 2], methods=("fi",))),
                li.plot_2d(fit, X, y, li.select(frame["fi_util"].to_numpy(), 3))):
        assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
    with pytest.raises(li.InputError, match="two features"):
        li.plot_2d(fit, np.c_[X, X], y, [0])


def test_trim_command(tmp_path, capsys):
    assert cli.main(["trim", "--budgets", "0,5", "--out", str(tmp_path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert set(summary["mean_accuracy"]) == {"fi", "iv", "random"}
    table = pd.read_csv(tmp_path / "trimming.csv")
    assert set(table.budget) == {0, 5} and table.accuracy.between(0, 1).all()
    assert cli.main(["trim", "--methods", "fi,magic", "--out", str(tmp_path)]) == 2
    assert "unknown --methods magic" in capsys.readouterr().err


def test_active_command_resumes_from_its_checkpoints(tmp_path, capsys):
    argv = ["active", "--rounds", "2", "--size", "5", "--standardize", "--out", str(tmp_path), "--json"]
    assert cli.main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert set(first["accuracy"]) == {"fi_active", "iv", "bald", "random"}
    assert (tmp_path / "checkpoints" / "active-fi_active-0.json").exists()
    assert cli.main(argv) == 0  # the rerun reads the finished checkpoints
    assert json.loads(capsys.readouterr().out)["accuracy"] == first["accuracy"]
    assert cli.main(["active", "--strategies", "psychic", "--out", str(tmp_path)]) == 2


def test_invariance_command_reports_theorem_1(tmp_path, capsys):
    """Binary breast cancer data: G_i has rank 1 in 30 dimensions, so rescaling the
    perturbation changes FI (the range condition fails), and the command says so."""
    assert cli.main(["invariance", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metric_rank_max"] == 1 and out["max_range_residual"] > 1e-3
    assert out["summary"].startswith("NOT invariant")
    X, y = make_problem(8, 90, 2, 3)
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(path, index=False)
    assert cli.main(["invariance", str(path), "--target", "y", "--json"]) == 0  # K - 1 = 2 >= d = 2
    assert json.loads(capsys.readouterr().out)["summary"].startswith("invariant")
    assert cli.main(["invariance", str(path), "--target", "y", "--scales", "1,0"]) == 2


def test_dataframe_in_labelled_results_out():
    X, y = make_problem(9, 50, 2, 2)
    frame = pd.DataFrame(X, index=[f"s{i}" for i in range(50)], columns=["u", "v"])
    inf = li.LocalInfluence(li.LogisticRegression(l2=0.01).fit(X, y), frame, pd.Series(y))
    plain = li.LocalInfluence(li.LogisticRegression(l2=0.01).fit(X, y), X, y)
    for name in ("fi_util", "influence_value"):
        out = getattr(inf, name)(X[:10], y[:10])
        assert isinstance(out, pd.Series) and list(out.index) == list(frame.index)
        assert np.allclose(out, getattr(plain, name)(X[:10], y[:10]))
    assert list(inf.fi_util(X[:10], y[:10], rows=[3, 7]).index) == ["s3", "s7"]
    pairs = inf.fi(X[:4], y[:4])
    assert isinstance(pairs, pd.DataFrame) and pairs.shape == (50, 4)
    for out in (inf.self_influence(), inf.cook_local_influence(), inf.leverage(), inf.metric_rank()):
        assert isinstance(out, pd.Series) and out.index[0] == "s0"
    assert isinstance(plain.self_influence(), np.ndarray)


def test_parquet_input_and_model_choice(tmp_path, capsys):
    X, y = make_problem(10, 80, 2, 3)
    path = tmp_path / "d.parquet"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_parquet(path)
    assert cli.main(["diagnose", str(path), "--target", "y", "--json", "--out", str(tmp_path)]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "SoftmaxRegression"
    assert cli.main(["diagnose", str(path), "--target", "y", "--model", "logistic",
                     "--out", str(tmp_path)]) == 2
    assert "two classes" in capsys.readouterr().err


def test_fi_active_keeps_the_pool_labels():
    X, y = make_problem(12, 40, 2, 2)
    inf = li.LocalInfluence(li.LogisticRegression(l2=0.01).fit(X, y), X, y)
    pool = pd.DataFrame(X[:6] + 0.1, index=list("abcdef"))
    out = inf.fi_active(pool)
    assert list(out.index) == list("abcdef")
    assert np.allclose(out, inf.fi_active(X[:6] + 0.1))


def test_a_file_whose_name_has_glob_characters_is_read_as_a_file(tmp_path, capsys):
    """``data[1].csv`` exists: it is that CSV file, not a Parquet dataset pattern."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(120, 3)), columns=["a", "b", "c"])
    frame["outcome"] = (frame["a"] + rng.logistic(size=120) > 0).astype(int)
    path = tmp_path / "data[1].csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "out"
    assert cli.main(["diagnose", str(path), "--target", "outcome", "--out", str(out), "--refits", "0"]) == 0
