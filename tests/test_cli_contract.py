"""Issue 13: the command line's contract. One encoder fitted on the training file and applied to
every other file; columns that are not features; exit 2 with one line for every failure; JSON
that keeps every digit; files that follow the umask and leave no temporary behind."""

import json
import os
import stat

import numpy as np
import pandas as pd
import pytest

import localinf as li
from localinf import cli


def _frame(seed=0, n=120):
    rng = np.random.default_rng(seed)
    sex = rng.choice(["female", "male"], size=n)
    bmi = rng.normal(25, 4, size=n)
    age = rng.uniform(20, 80, size=n)
    eta = 0.08 * (bmi - 25) + 0.03 * (age - 50) + 0.7 * (sex == "male")
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-eta)), "yes", "no")
    return pd.DataFrame({"sex": sex, "bmi": bmi, "age": age, "outcome": y})


def _run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, match):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("localinf: error:"), err
    assert match in lines[0], err


@pytest.fixture
def files(tmp_path):
    train, val = _frame(0), _frame(1, 60)
    tp, vp = tmp_path / "train.csv", tmp_path / "val.csv"
    train.to_csv(tp, index=False)
    val.to_csv(vp, index=False)
    return tmp_path, tp, vp, train, val


def _diagnose(tmp_path, tp, vp, capsys, out="out", extra=()):
    argv = ["diagnose", str(tp), "--target", "outcome", "--val-file", str(vp), "--json",
            "--out", str(tmp_path / out), *extra]
    return _run(argv, capsys)


# -- 1. one encoder, fitted on the training file ----------------------------------
def test_val_file_is_encoded_with_the_training_encoder(files, capsys):
    tmp_path, tp, vp, train, val = files
    code, out, err = _diagnose(tmp_path, tp, vp, capsys)
    assert code == 0, err
    expected = pd.read_csv(tmp_path / "out" / "influence.csv", index_col="row")
    # the same validation rows, columns reordered: the same numbers
    val[["outcome", "age", "sex", "bmi"]].to_csv(vp, index=False)
    assert _diagnose(tmp_path, tp, vp, capsys, out="out2")[0] == 0
    again = pd.read_csv(tmp_path / "out2" / "influence.csv", index_col="row")
    np.testing.assert_allclose(again.fi_util.to_numpy(), expected.fi_util.to_numpy(), rtol=1e-10)
    # an independent computation: dummy coding sex_male by hand, the API on it
    def design(f):
        return pd.DataFrame({"age": f.age, "bmi": f.bmi, "sex_male": (f.sex == "male").astype(float)})
    Xtr, ytr = design(train), (train.outcome == "yes").astype(int).to_numpy()
    model = li.LogisticRegression(l2=1e-3).fit(Xtr, ytr)
    fi = li.LocalInfluence(model, Xtr, ytr).fi_util(design(val), (val.outcome == "yes").astype(int))
    np.testing.assert_allclose(expected.sort_index().fi_util.to_numpy(), np.asarray(fi), rtol=1e-8)


def test_val_file_with_one_level_keeps_its_meaning(files, capsys):
    tmp_path, tp, vp, train, val = files
    men = val[val.sex == "male"]
    men.to_csv(vp, index=False)
    code, out, err = _diagnose(tmp_path, tp, vp, capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["n_validation"] == len(men)
    Xtr = pd.DataFrame({"age": train.age, "bmi": train.bmi, "sex_male": (train.sex == "male") * 1.0})
    ytr = (train.outcome == "yes").astype(int).to_numpy()
    model = li.LogisticRegression(l2=1e-3).fit(Xtr, ytr)
    Xv = pd.DataFrame({"age": men.age, "bmi": men.bmi, "sex_male": 1.0})
    fi = li.LocalInfluence(model, Xtr, ytr).fi_util(Xv, (men.outcome == "yes").astype(int))
    table = pd.read_csv(tmp_path / "out" / "influence.csv", index_col="row").sort_index()
    np.testing.assert_allclose(table.fi_util.to_numpy(), np.asarray(fi), rtol=1e-8)


@pytest.mark.parametrize("change, match", [
    (lambda v: v.drop(columns="bmi"), "bmi"),
    (lambda v: v.assign(sex=v.sex.where(v.index > 3, "other")), "'other'"),
    (lambda v: v.assign(outcome=v.outcome.where(v.index > 3, "maybe")), "'maybe'"),
    (lambda v: v.assign(bmi=v.bmi.astype(str) + "kg"), "bmi"),
])
def test_val_file_mismatch_exits_2_naming_it(files, capsys, change, match):
    tmp_path, tp, vp, train, val = files
    change(val).to_csv(vp, index=False)
    code, out, err = _diagnose(tmp_path, tp, vp, capsys)
    _one_line_error(code, err, match)


# -- 2. columns that are not features -----------------------------------------------
def test_id_column_is_dropped_with_a_note_and_becomes_the_row_label(tmp_path, capsys):
    f = _frame(2)
    f.insert(0, "name", [f"patient-{i:03d}" for i in range(len(f))])
    path = tmp_path / "d.csv"
    f.to_csv(path, index=False)
    code, out, err = _run(["diagnose", str(path), "--target", "outcome", "--json",
                           "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["n_features"] == 3
    assert "name" in err and "identifier" in err
    table = pd.read_csv(tmp_path / "o" / "influence.csv")
    assert table.row.str.startswith("patient-").all()
    code, out, err = _run(["diagnose", str(path), "--target", "outcome", "--keep-id",
                           "--out", str(tmp_path / "o2")], capsys)
    _one_line_error(code, err, "--max-levels")


def test_r_rownames_column_is_the_row_label(tmp_path, capsys):
    f = _frame(3)
    f.index = np.arange(1, len(f) + 1)
    path = tmp_path / "r.csv"
    f.to_csv(path)  # as R's write.csv: an unnamed first column 1..n
    code, out, err = _run(["diagnose", str(path), "--target", "outcome", "--json",
                           "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert json.loads(out)["n_features"] == 3
    table = pd.read_csv(tmp_path / "o" / "influence.csv")
    assert sorted(table.row) != list(range(len(table)))  # labels 1..n after the split
    assert table.row.min() >= 1


def test_too_many_levels_is_refused_before_encoding(tmp_path, capsys):
    f = _frame(4, 300)
    f["code"] = np.random.default_rng(0).integers(0, 200, size=len(f)).astype(str)
    f["code"] = "c" + f["code"]
    path = tmp_path / "d.csv"
    f.to_csv(path, index=False)
    code, out, err = _run(["diagnose", str(path), "--target", "outcome", "--out", str(tmp_path / "o")],
                          capsys)
    _one_line_error(code, err, "'code'")
    assert "--max-levels" in err


def test_duplicate_headers_are_refused(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("a,b,a,y\n" + "\n".join(f"{i},{i % 3},{i % 5},{i % 2}" for i in range(40)) + "\n")
    code, out, err = _run(["diagnose", str(path), "--target", "y", "--out", str(tmp_path / "o")], capsys)
    _one_line_error(code, err, "'a'")


def test_decimal_comma_is_refused_with_the_remedy(tmp_path, capsys):
    f = _frame(5)
    f["bmi"] = f.bmi.map(lambda v: f"{v:.2f}".replace(".", ","))
    path = tmp_path / "d.csv"
    f.to_csv(path, index=False)
    code, out, err = _run(["diagnose", str(path), "--target", "outcome", "--out", str(tmp_path / "o")],
                          capsys)
    _one_line_error(code, err, "--decimal")
    f.assign(age=f.age.map(str)).to_csv(path, index=False, sep=";")  # age written with '.'
    code, out, err = _run(["diagnose", str(path), "--target", "outcome", "--sep", ";", "--decimal", ",",
                           "--out", str(tmp_path / "o")], capsys)
    _one_line_error(code, err, "'age'")
    f.to_csv(path, index=False, sep=";", decimal=",")
    code, out, err = _run(["diagnose", str(path), "--target", "outcome", "--sep", ";", "--decimal", ",",
                           "--json", "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert json.loads(out)["n_features"] == 3


def test_dropna_drops_rows_and_says_how_many(tmp_path, capsys):
    f = _frame(6)
    f.loc[[3, 10, 11], "bmi"] = np.nan
    path = tmp_path / "d.csv"
    f.to_csv(path, index=False)
    code, out, err = _run(["diagnose", str(path), "--target", "outcome", "--out", str(tmp_path / "o")],
                          capsys)
    _one_line_error(code, err, "--dropna")
    code, out, err = _run(["diagnose", str(path), "--target", "outcome", "--dropna", "--json",
                           "--out", str(tmp_path / "o")], capsys)
    assert code == 0, err
    assert "3 rows" in err
    payload = json.loads(out)
    assert payload["n_train"] + payload["n_validation"] == len(f) - 3


# -- 8. the CLI contract ---------------------------------------------------------------
@pytest.mark.parametrize("argv, match", [
    (["--seed", "-1"], "--seed"),
    (["--flag", "nan"], "--flag"),
    (["--flag", "-1"], "--flag"),
    (["--flag", "1.5"], "--flag"),
    (["--top", "-1"], "--top"),
    (["--l2", "nan"], "--l2"),
    (["--l2", "-1"], "--l2"),
    (["--val-frac", "1"], "--val-frac"),
    (["--val-frac", "nan"], "--val-frac"),
    (["--max-levels", "0"], "--max-levels"),
    (["--bogus"], "--bogus"),
])
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, argv, match):
    code, out, err = _run(["diagnose", "--out", str(tmp_path / "o"), *argv], capsys)
    _one_line_error(code, err, match)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", ["diagnose", "trim", "active", "invariance"])
def test_every_command_validates_the_seed(tmp_path, capsys, command):
    code, out, err = _run([command, "--seed", "-1"] + (["--out", str(tmp_path)] if command != "invariance"
                                                       else []), capsys)
    _one_line_error(code, err, "--seed")


def test_unwritable_output_is_refused_before_computing(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = _run(["--out", str(blocker)], capsys)
    _one_line_error(code, err, str(blocker))
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            code, out, err = _run(["--out", str(locked / "sub")], capsys)
            _one_line_error(code, err, "locked")
            code, out, err = _run(["--out", str(locked)], capsys)
            _one_line_error(code, err, "locked")
        finally:
            locked.chmod(0o700)
        assert not [p for p in locked.iterdir()]


def test_no_temporary_file_survives_a_failed_write(tmp_path, monkeypatch):
    from localinf._core import io

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(io.os, "replace", broken)
    with pytest.raises(OSError):
        io.write_text(str(tmp_path / "a.csv"), "x")
    assert list(tmp_path.iterdir()) == []


def test_output_files_follow_the_umask(tmp_path, capsys):
    old = os.umask(0o077)
    try:
        assert cli.main(["--out", str(tmp_path / "o"), "--quiet"]) == 0
    finally:
        os.umask(old)
    for name in ("influence.csv", "influence.png"):
        mode = stat.S_IMODE(os.stat(tmp_path / "o" / name).st_mode)
        assert mode == 0o600, oct(mode)
    old = os.umask(0o022)
    try:
        assert cli.main(["--out", str(tmp_path / "p"), "--quiet"]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "p" / "influence.csv").st_mode) == 0o644


def test_json_keeps_every_digit_and_writes_null(tmp_path, capsys):
    code, out, err = _run(["--out", str(tmp_path / "o"), "--json", "--top", "50"], capsys)
    assert code == 0, err
    payload = json.loads(out, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    table = pd.read_csv(tmp_path / "o" / "influence.csv", index_col="row")
    for rec in payload["top"]:
        assert rec["fi_util"] == table.loc[rec["row"], "fi_util"]
    assert all(rec["fi_util"] != 0.0 for rec in payload["top"])
    from localinf.cli.output import to_json
    assert json.loads(to_json({"a": float("nan"), "b": np.float64(1 / 3), "c": [np.inf]})) == \
        {"a": None, "b": 1 / 3, "c": [None]}


def test_trim_json_is_strict_json(tmp_path, capsys):
    code, out, err = _run(["trim", "--budgets", "0,5", "--methods", "fi,random", "--json",
                           "--out", str(tmp_path)], capsys)
    assert code == 0, err
    json.loads(out, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))


def test_index_plot_uses_the_row_labels():
    import matplotlib
    matplotlib.use("Agg")
    frame = pd.DataFrame({"fi_util": [1.0, 3.0, 2.0], "flagged": [False, True, False]}, index=[10, 42, 7])
    ax = li.plot_index(frame).axes[0]
    xs = sorted(x for seg in ax.collections[0].get_segments() for x in {seg[0][0]})
    assert xs == [7, 10, 42]


def test_in_sample_warning_is_printed_even_with_quiet(files, capsys):
    # --quiet silences notes and the table, not a warning that the numbers are round-off
    tmp_path, tp, vp, train, val = files
    argv = ["diagnose", str(tp), "--target", "outcome", "--val-file", str(tp), "--quiet",
            "--out", str(tmp_path / "q")]
    code, out, err = _run(argv, capsys)
    assert code == 0 and out == ""
    assert "localinf: warning:" in err and "in-sample" in err
