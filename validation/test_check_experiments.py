"""The experiment scripts run end to end (reduced: few seeds, few budgets) and write
their tables and figures."""

import os
import subprocess
import sys

import pytest

HERE = os.path.join(os.path.dirname(__file__), "experiments")


@pytest.mark.parametrize("script, args, outputs", [
    ("table1_gaussians.py", ["--seeds", "2"], ["table1.md", "figure1.png"]),
    ("table1_gaussians.py", ["--seeds", "2", "--pipeline", "infdatasel"], ["table1_infdatasel.md"]),
    ("trimming_real.py", ["--quick"], ["trimming_curves.md", "trimming_curves.png", "table7.md", "table8.md"]),
    ("active_curves.py", ["--quick"], ["active_curves.md", "active_curves.png"]),
    ("table2_moons.py", ["--seeds", "1"], ["table2.md"]),
])
def test_experiment_runs(tmp_path, script, args, outputs):
    env = dict(os.environ, LOCALINF_EXPERIMENT_OUT=str(tmp_path), MPLBACKEND="Agg")
    res = subprocess.run([sys.executable, os.path.join(HERE, script)] + args, env=env,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    for name in outputs:
        path = tmp_path / name
        assert path.exists() and path.stat().st_size > 0, name
    tables = [tmp_path / n for n in outputs if n.endswith(".md")]
    assert all("| " in t.read_text() for t in tables)
    assert "nan" not in (tmp_path / outputs[0]).read_text().lower()


def test_paired_statistics_match_scipy_and_the_binomial_sum():
    """The seed-paired cells of the trimming tables, against scipy's paired t interval and the
    sign test written out as a binomial sum."""
    from math import comb
    import numpy as np
    from scipy import stats
    sys.path.insert(0, HERE)
    from paired import paired
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.95, 0.01, 25), rng.normal(0.95, 0.01, 25)
    b[:3] = a[:3]  # three ties
    r = paired(a, b)
    ci = stats.ttest_rel(a, b).confidence_interval(0.95)
    assert (r["low"], r["high"]) == (pytest.approx(ci.low, rel=1e-12), pytest.approx(ci.high, rel=1e-12))
    w, l = int(np.sum(a > b)), int(np.sum(a < b))
    assert (r["wins"], r["ties"], r["losses"]) == (w, 3, l)
    k, n = min(w, l), w + l
    assert r["p_sign"] == pytest.approx(min(1.0, 2 * sum(comb(n, j) for j in range(k + 1)) / 2 ** n), rel=1e-12)
