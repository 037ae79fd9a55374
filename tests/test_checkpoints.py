"""Checkpoints of active learning that cannot lie (issue 13, point 6).

A checkpoint is keyed by every setting and every array of the run, validated
field by field when it is read, written atomically after every round, locked
while a run uses it, and can be thrown away with ``restart=True`` (``--fresh``).
"""

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import localinf as li
from localinf import cli, exceptions
from localinf.cli.data import glm_fit
from localinf.selection import checkpoint as checkpoints
from helpers import make_problem


def arrays():
    """n = 60, d = 3, two classes: 10 labeled, a pool of 30, 10 test and 10 validation rows."""
    X, y = make_problem(31, 60, 3, 2)
    return dict(X_lab=X[:10], y_lab=y[:10], X_pool=X[10:40], y_pool=y[10:40],
                X_test=X[40:50], y_test=y[40:50], X_val=X[50:], y_val=y[50:])


def fit_l2(X, y, l2):
    return li.LogisticRegression(l2=l2).fit(X, y)


def closure(l2):
    return lambda X, y: li.LogisticRegression(l2=l2).fit(X, y)


def run(path=None, **changes):
    """One run (3 rounds of 4 from a pool of 30) with the defaults below, changed by ``changes``."""
    kw = dict(arrays(), fit=li.LogisticRegression(l2=0.01).fit, strategy="iv", rounds=3,
              acquisition_size=4, seed=1)
    kw.update(changes)
    return li.active_learning(checkpoint=None if path is None else str(path), **kw)


def error():
    return exceptions.CheckpointError


# --- 1. the key covers every setting and every array --------------------------------------------

def test_the_key_hashes_shape_and_dtype_not_just_bytes():
    a = np.arange(6.0)
    key = checkpoints.config_key(a)
    assert checkpoints.config_key(a.copy()) == key
    assert checkpoints.config_key(a.reshape(2, 3)) != key           # same bytes, other shape
    assert checkpoints.config_key(a.view(np.int64)) != key          # same bytes, other dtype
    b = np.arange(12.0).reshape(2, 6)[:, ::2]                       # not contiguous
    assert checkpoints.config_key(b) == checkpoints.config_key(np.ascontiguousarray(b))
    big = np.zeros(5000)
    changed = big.copy()
    changed[2500] = 1.0  # repr would print "..." over the middle of this array
    assert checkpoints.config_key([big]) != checkpoints.config_key([changed])
    assert checkpoints.config_key(dict(a=1, b=2)) == checkpoints.config_key(dict(b=2, a=1))
    assert checkpoints.config_key(np.exp) != checkpoints.config_key(np.log)
    assert checkpoints.config_key(np.float32(0.5)) != checkpoints.config_key(np.float64(0.5))


def test_the_key_of_the_command_line_fit_sees_l2_and_is_the_same_in_another_process():
    """The CLI's fit is ``glm_fit(K, l2)``, a lambda closing over the class and l2."""
    key = checkpoints.config_key(glm_fit(2, 0.01))
    assert checkpoints.config_key(glm_fit(2, 0.01)) == key
    assert checkpoints.config_key(glm_fit(2, 1.0)) != key
    assert checkpoints.config_key(glm_fit(3, 0.01)) != key
    estimator = checkpoints.config_key(li.LogisticRegression(l2=0.01).fit)
    code = ("import localinf as li\n"
            "from localinf.cli.data import glm_fit\n"
            "from localinf.selection.checkpoint import config_key\n"
            "print(config_key(glm_fit(2, 0.01)), config_key(li.LogisticRegression(l2=0.01).fit))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # nothing process-specific (addresses, hash seeds) in the key
    assert out.stdout.split() == [key, estimator]


OTHER_RUNS = {
    "l2 of an estimator's fit": ({}, dict(fit=li.LogisticRegression(l2=1.0).fit)),
    "fit_intercept of an estimator's fit": (
        {}, dict(fit=li.LogisticRegression(l2=0.01, fit_intercept=False).fit)),
    "l2 in a closure": (dict(fit=closure(0.01)), dict(fit=closure(1.0))),
    "l2 in a partial": (
        dict(fit=functools.partial(fit_l2, l2=0.01)), dict(fit=functools.partial(fit_l2, l2=1.0))),
    "X_test": ({}, dict(X_test=arrays()["X_test"] + 0.5)),
    "y_test": ({}, dict(y_test=1 - arrays()["y_test"])),
    "X_val": ({}, dict(X_val=arrays()["X_val"] * 2.0)),
    "y_val": ({}, dict(y_val=1 - arrays()["y_val"])),
    "no validation set": (dict(strategy="random"), dict(strategy="random", X_val=None, y_val=None)),
    "influence_kw": ({}, dict(influence_kw={"rtol": 1e-6})),
    "n_samples": (dict(strategy="bald"), dict(strategy="bald", n_samples=8)),
    "checkpoint_key": ({}, dict(checkpoint_key="labels from the 2024 oracle")),
}


@pytest.mark.parametrize("first, second", OTHER_RUNS.values(), ids=list(OTHER_RUNS))
def test_a_run_with_another_setting_refuses_the_checkpoint(tmp_path, first, second):
    path = tmp_path / "run.json"
    run(path, **first)
    before = path.read_text()
    with pytest.raises(error(), match="other settings") as info:
        run(path, **second)
    assert str(path) in str(info.value) and "restart=True" in str(info.value)
    assert path.read_text() == before  # refused, not overwritten


@pytest.mark.parametrize("make_fit", [lambda: li.LogisticRegression(l2=0.01).fit,
                                      lambda: closure(0.01),
                                      lambda: functools.partial(fit_l2, l2=0.01)],
                         ids=["estimator", "closure", "partial"])
def test_the_same_settings_with_new_objects_resume(tmp_path, make_fit):
    path = tmp_path / "run.json"
    fit = make_fit()
    full = run(path, fit=fit)
    rounds_run = []
    again = run(path, fit=make_fit(), progress=rounds_run.append)
    assert rounds_run == [] and again.equals(full)  # read back, nothing recomputed
    # the same fit again: it has been called, and its fitted state (coef_ ...) is no setting
    again = run(path, fit=fit, progress=rounds_run.append)
    assert rounds_run == [] and again.equals(full)


# --- 2. contents are validated -------------------------------------------------------------------

def edit(change):
    def tamper(text):
        state = json.loads(text)
        change(state)
        return json.dumps(state)
    return tamper


def setitem(*where_and_value):
    *where, value = where_and_value

    def change(state):
        target = state
        for k in where[:-1]:
            target = target[k]
        target[where[-1]] = value
    return change


TAMPERED = {
    "truncated": lambda text: text[:len(text) // 2],
    "empty": lambda text: "",
    "not JSON": lambda text: "chosen: 1, 2, 3",
    "a list": lambda text: json.dumps(json.loads(text)["chosen"]),
    "no version": edit(lambda s: s.pop("version")),
    "other version": edit(setitem("version", 999)),
    "version true": edit(setitem("version", True)),
    "an extra field": edit(setitem("note", "hello")),
    "key not a string": edit(setitem("key", 7)),
    "chosen not a list": edit(setitem("chosen", {"0": 1})),
    "chosen duplicated": edit(lambda s: s["chosen"].__setitem__(1, s["chosen"][0])),
    "chosen past the pool": edit(setitem("chosen", 0, 30)),
    "chosen negative": edit(setitem("chosen", 0, -1)),
    "chosen a float": edit(setitem("chosen", 0, 3.0)),
    "chosen a string": edit(setitem("chosen", 0, "3")),
    "chosen a bool": edit(setitem("chosen", 0, True)),
    "chosen too short": edit(lambda s: s.__setitem__("chosen", s["chosen"][:8])),
    "chosen too long": edit(lambda s: s["chosen"].append(29 if 29 not in s["chosen"] else 28)),
    "results not a list": edit(setitem("results", {"round": 0})),
    "a result not a dict": edit(setitem("results", 0, [0, 10, 0.5])),
    "a round duplicated": edit(lambda s: s["results"].append(s["results"][-1])),
    "a round missing": edit(lambda s: s["results"].pop(1)),
    "a result without accuracy": edit(lambda s: s["results"][0].pop("accuracy")),
    "a result with an extra key": edit(setitem("results", 0, "note", 1)),
    "a round renumbered": edit(setitem("results", 1, "round", 5)),
    "n_labeled wrong": edit(setitem("results", 1, "n_labeled", 99)),
    "accuracy above 1": edit(setitem("results", 2, "accuracy", 1.5)),
    "accuracy a string": edit(setitem("results", 2, "accuracy", "0.9")),
    "seconds negative": edit(setitem("results", 0, "seconds", -1.0)),
    "another strategy": edit(setitem("results", 0, "strategy", "random")),
    "another seed": edit(setitem("results", 0, "seed", 2)),
}


@pytest.mark.parametrize("tamper", TAMPERED.values(), ids=list(TAMPERED))
def test_a_bad_checkpoint_is_a_one_line_error_naming_the_file_and_the_remedy(tmp_path, tamper):
    path = tmp_path / "run.json"
    run(path)
    path.write_text(tamper(path.read_text()))
    with pytest.raises(error()) as info:
        run(path)
    msg = str(info.value)
    assert str(path) in msg and "restart=True" in msg and "\n" not in msg


def test_a_file_that_is_not_text_is_refused(tmp_path):
    path = tmp_path / "run.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(error(), match="restart=True"):
        run(path)


def test_a_partial_checkpoint_of_the_same_run_is_accepted(tmp_path):
    path = tmp_path / "run.json"
    full = run(path)
    state = json.loads(path.read_text())
    state["results"], state["chosen"] = state["results"][:2], state["chosen"][:8]
    path.write_text(json.dumps(state))
    rounds_run = []
    resumed = run(path, progress=rounds_run.append)
    assert len(rounds_run) == 2  # rounds 2 and 3 only
    assert np.array_equal(resumed.accuracy, full.accuracy)
    assert np.array_equal(resumed.n_labeled, full.n_labeled)


# --- 3. restart=True -----------------------------------------------------------------------------

def test_restart_ignores_and_overwrites_a_bad_or_foreign_checkpoint(tmp_path):
    path = tmp_path / "run.json"
    expected = run(fit=li.LogisticRegression(l2=1.0).fit)
    path.write_text("{ truncated")
    got = run(path, fit=li.LogisticRegression(l2=1.0).fit, restart=True)
    assert np.array_equal(got.accuracy, expected.accuracy)
    run(path, restart=True)  # a run with other settings takes the file...
    with pytest.raises(error(), match="other settings"):
        run(path, fit=li.LogisticRegression(l2=1.0).fit)
    got = run(path, fit=li.LogisticRegression(l2=1.0).fit, restart=True)  # ...is overwritten
    assert np.array_equal(got.accuracy, expected.accuracy)
    rounds_run = []
    again = run(path, fit=li.LogisticRegression(l2=1.0).fit, progress=rounds_run.append)
    assert rounds_run == [] and again.equals(got)  # the new file resumes


def test_restart_recomputes_a_finished_run(tmp_path):
    path = tmp_path / "run.json"
    run(path)
    rounds_run = []
    run(path, restart=True, progress=rounds_run.append)
    assert len(rounds_run) == 4


# --- 4. a lock: two runs cannot interleave ---------------------------------------------------------

def test_a_second_run_on_a_checkpoint_in_use_is_refused(tmp_path):
    path = tmp_path / "run.json"
    lock = tmp_path / "run.json.lock"
    refused = []

    def meanwhile(msg):
        if not refused:
            assert lock.exists() and lock.read_text().split()[0] == str(os.getpid())
            with pytest.raises(error()) as info:
                run(path)
            refused.append(str(info.value))

    full = run(path, progress=meanwhile)
    assert refused and str(lock) in refused[0] and "\n" not in refused[0]
    assert not lock.exists()  # released
    assert np.array_equal(full.accuracy, run().accuracy)  # the refused run changed nothing


def test_a_lock_held_by_a_live_process_is_respected(tmp_path):
    path = tmp_path / "run.json"
    lock = tmp_path / "run.json.lock"
    lock.write_text(f"{os.getpid()}\n")
    with pytest.raises(error(), match="in use") as info:
        run(path)
    assert str(lock) in str(info.value)
    assert lock.read_text() == f"{os.getpid()}\n" and not path.exists()


def test_a_stale_lock_is_taken_over(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid is no longer alive
    path = tmp_path / "run.json"
    lock = tmp_path / "run.json.lock"
    lock.write_text(f"{child.pid}\n")
    got = run(path)
    assert np.array_equal(got.accuracy, run().accuracy)
    assert path.exists() and not lock.exists()


def test_the_lock_is_released_when_a_run_fails(tmp_path):
    path = tmp_path / "run.json"
    with pytest.raises(li.InputError):
        run(path, influence_kw={"no_such_option": 1})
    assert not (tmp_path / "run.json.lock").exists()


# --- 5. nothing lost on a crash ------------------------------------------------------------------

def test_a_crash_between_rounds_keeps_the_completed_rounds(tmp_path):
    path = tmp_path / "run.json"
    full = run()

    def crash(msg):
        if "round 1" in msg:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(path, progress=crash)
    state = json.loads(path.read_text())
    assert [r["round"] for r in state["results"]] == [0, 1] and len(state["chosen"]) == 8
    assert not (tmp_path / "run.json.lock").exists()
    assert np.array_equal(run(path).accuracy, full.accuracy)


def test_a_crash_while_writing_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.json"
    full = run()
    written = []

    def crash_at_round_1(msg):
        if "round 1" in msg:
            written.append(path.read_text())

            def replace(src, dst):
                raise OSError("disk full")
            monkeypatch.setattr(os, "replace", replace)
            monkeypatch.setattr(os, "rename", replace)

    with pytest.raises(OSError, match="disk full"):
        run(path, progress=crash_at_round_1)
    monkeypatch.undo()
    assert path.read_text() == written[0]  # the file of rounds 0 and 1, whole
    assert len(json.loads(written[0])["results"]) == 2
    assert not (tmp_path / "run.json.lock").exists()
    assert np.array_equal(run(path).accuracy, full.accuracy)


# --- the command line ----------------------------------------------------------------------------

def cli_args(tmp_path, out, *extra):
    X, y = make_problem(32, 60, 3, 2)
    data = tmp_path / "d.csv"
    if not data.exists():
        frame = pd.DataFrame(X, columns=["a", "b", "c"])
        frame["y"] = y
        frame.to_csv(data, index=False)
    return ["active", str(data), "--target", "y", "--strategies", "random,fi_active", "--initial", "10",
            "--rounds", "2", "--size", "3", "--out", str(out), "--json", *extra]


def accuracy(capsys):
    return json.loads(capsys.readouterr().out)["accuracy"]


def test_cli_refuses_a_checkpoint_of_another_l2_and_fresh_overwrites_it(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(cli_args(tmp_path, out, "--l2", "0.01")) == 0
    capsys.readouterr()
    assert cli.main(cli_args(tmp_path, out, "--l2", "1.0")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "other settings" in err and "--fresh" in err
    assert "Traceback" not in err
    assert cli.main(cli_args(tmp_path, tmp_path / "clean", "--l2", "1.0")) == 0
    expected = accuracy(capsys)
    assert cli.main(cli_args(tmp_path, out, "--l2", "1.0", "--fresh")) == 0
    assert accuracy(capsys) == expected
    assert cli.main(cli_args(tmp_path, out, "--l2", "1.0")) == 0  # resumes the overwritten files
    assert accuracy(capsys) == expected


def test_cli_reports_a_corrupt_checkpoint_in_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(cli_args(tmp_path, out)) == 0
    capsys.readouterr()
    bad = out / "checkpoints" / "active-random-0.json"
    bad.write_text(bad.read_text()[:40])
    assert cli.main(cli_args(tmp_path, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(bad) in err and "--fresh" in err
    assert cli.main(cli_args(tmp_path, out, "--fresh")) == 0


def test_cli_reports_a_locked_checkpoint_in_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    lock = out / "checkpoints" / "active-random-0.json.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{os.getpid()}\n")
    assert cli.main(cli_args(tmp_path, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(lock) in err
    assert lock.exists()  # another run's lock is not removed
