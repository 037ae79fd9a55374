"""What diagnose says about deleting a row: IV's first-order sign and the exact refit.

The refit effect is checked against refits written out here with scikit-learn's
log-loss, independent of localinf.selection.deletion.
"""

import json

import numpy as np
import pytest
from sklearn.metrics import log_loss

import localinf as li
from helpers import make_problem
from localinf.cli import main
from localinf.selection.deletion import deletion_effect


def _fit(A, b):
    return li.LogisticRegression(l2=0.01).fit(A, b)


def test_deletion_effect_matches_refits_by_hand():
    X, y = make_problem(3, 60, 3, 2)
    Xv, yv = make_problem(4, 40, 3, 2)
    rows = [0, 7, 33]
    got = deletion_effect(_fit, X, y, Xv, yv, rows)
    base = log_loss(yv, _fit(X, y).predict_proba(Xv), labels=[0, 1])
    for k, i in enumerate(rows):
        keep = np.arange(60) != i
        expected = log_loss(yv, _fit(X[keep], y[keep]).predict_proba(Xv), labels=[0, 1]) - base
        assert got[k] == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_diagnose_shows_the_deletion_effect_of_each_printed_row(tmp_path, capsys):
    assert main(["--out", str(tmp_path / "o"), "--json", "--top", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fi_depends_on_units"] is True  # binary, d = 30
    for row in out["top"]:
        assert row["deleting"] == ("lowers loss" if row["iv"] < 0 else "raises loss")
        assert np.isfinite(row["refit_dloss"])
    assert main(["--out", str(tmp_path / "p"), "--json", "--refits", "0"]) == 0
    assert "refit_dloss" not in json.loads(capsys.readouterr().out)["top"][0]


def test_diagnose_passes_the_rank_cut_off(tmp_path, capsys):
    # a cut-off above every eigenvalue of every G_i leaves nothing to invert: FI is 0 throughout
    assert main(["--out", str(tmp_path / "a"), "--json", "--refits", "0", "--atol", "1e3"]) == 0
    top = json.loads(capsys.readouterr().out)["top"]
    assert all(r["fi_util"] == 0.0 for r in top)
    assert main(["--out", str(tmp_path / "b"), "--json", "--refits", "0", "--rtol", "0.5"]) == 0
    assert any(r["fi_util"] > 0 for r in json.loads(capsys.readouterr().out)["top"])
