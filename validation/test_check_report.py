"""The verification report command: passes on localinf, fails on a broken backend,
refuses bad arguments."""

import os

from localinf import validate


def test_report_on_localinf_passes(tmp_path):
    assert validate.main(["--out", str(tmp_path), "--quiet"]) == 0
    text = (tmp_path / "validation-report.md").read_text()
    assert "| backends agree: FI_util |" in text and "FAIL" not in text
    assert "LDS of IV" in text and "Theorem 1" in text


def test_report_catches_a_broken_backend(tmp_path, capsys):
    code = validate.main(["--backend", "broken_backend:make", "--out", str(tmp_path), "--quiet"])
    assert code == 1
    assert "FAILED" in capsys.readouterr().out
    assert "FAIL" in (tmp_path / "validation-report.md").read_text()


def test_bad_backend_spec_exits_2(tmp_path, capsys):
    assert validate.main(["--backend", "no_such_module_xyz:make", "--out", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "validation-report.md")
