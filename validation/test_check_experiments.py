"""The experiment scripts run end to end (reduced: few seeds, few budgets) and write
their tables and figures."""

import os
import subprocess
import sys

import pytest

HERE = os.path.join(os.path.dirname(__file__), "experiments")


@pytest.mark.parametrize("script, args, outputs", [
    ("table1_gaussians.py", ["--seeds", "2"], ["table1.md", "figure1.png"]),
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
