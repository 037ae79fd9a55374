"""Smoke test of benchmarks/bench_relu_digits.py --quick: it runs, and every agreement
number it reports is a correlation in [-1, 1] or an overlap share in [0, 1].

Nothing about time is checked (the benchmark only reports times).
"""

import importlib.util
import os

import numpy as np

BENCH = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "bench_relu_digits.py")


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_relu_digits", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_agreement(a):
    assert -1.0 <= a["iv_spearman"] <= 1.0
    if not np.isnan(a["spearman"]):  # NaN only for routes scored on too few rows to rank
        assert -1.0 <= a["spearman"] <= 1.0
    assert a["overlap"] and all(0.0 <= v <= 1.0 for v in a["overlap"].values())


def test_bench_relu_digits_quick_runs(capsys):
    out = load_bench().main(["--quick"])
    text = capsys.readouterr().out
    for label in ("machine floor", "GGN dense (reference)", "GGN CG + K-FAC precond.", "K-FAC",
                  "last layer (exact)", "peak traced memory", "GGN against exact H"):
        assert label in text, label
    runs = out["relu"]["runs"]
    assert len(runs) == 2  # two dampings
    for per_damping in runs.values():
        assert len(per_damping) == 6
        for r in per_damping.values():
            check_agreement(r["agreement"])
    check_agreement(out["smooth"]["agreement"])
