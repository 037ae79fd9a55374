"""The plots draw what they say: points, bubble areas, labelled rows, reference lines, refusals."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import localinf as li  # noqa: E402
from localinf.plots import plot_fi_iv, plot_index, plot_influence  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def hand_frame(n=20, seed=0, index="text", signed=True):
    """A summary_frame-like table with the columns the plots read."""
    rng = np.random.default_rng(seed)
    labels = [f"case{i:02d}" for i in range(n)] if index == "text" else list(range(100, 100 + 3 * n, 3))
    fi = rng.exponential(size=n)
    resid = rng.normal(scale=1.5, size=n)
    return pd.DataFrame({"hat_diag": rng.uniform(0.01, 0.4, n),
                         "student_resid": resid if signed else np.abs(resid),
                         "cooks_d": rng.exponential(0.05, n), "fi_util": fi,
                         "iv": rng.normal(size=n), "flagged": fi >= np.sort(fi)[-3]},
                        index=pd.Index(labels))


def row_labels(ax):
    """``{label text: annotated point}`` of the row-label annotations."""
    return {t.get_text(): tuple(t.xy) for t in ax.texts if t.get_gid() == "row-label"}


def lines(ax, gid):
    return [ln for ln in ax.lines if ln.get_gid() == gid]


def collection(ax, gid):
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1
    return found[0]


def top_labels(frame, column, k):
    return set(map(str, frame[column].sort_values(ascending=False, kind="stable").index[:k]))


# -- plot_influence ---------------------------------------------------------------------------
@pytest.mark.parametrize("size", ["cooks_d", "fi_util"])
def test_influence_plot_bubbles_have_areas_proportional_to_size(size):
    f = hand_frame()
    fig = plot_influence(f, size=size)
    ax = fig.axes[0]
    bubbles, points = collection(ax, "bubbles"), collection(ax, "points")
    np.testing.assert_allclose(bubbles.get_offsets(), f[["hat_diag", "student_resid"]].to_numpy())
    assert len(points.get_offsets()) == len(f)
    ratio = bubbles.get_sizes() / f[size].to_numpy()
    np.testing.assert_allclose(ratio, ratio[0])
    assert bubbles.get_sizes().max() == pytest.approx(900)
    assert size in ax.get_title()


def test_influence_plot_labels_the_top_rows_at_their_points():
    f = hand_frame()
    ax = plot_influence(f, top=4).axes[0]
    labels = row_labels(ax)
    assert set(labels) == top_labels(f, "cooks_d", 4)
    for name, xy in labels.items():
        assert xy == pytest.approx((f.loc[name, "hat_diag"], f.loc[name, "student_resid"]))
    assert row_labels(plot_influence(f, top=0).axes[0]) == {}
    assert set(row_labels(plot_influence(f, top=100).axes[0])) == set(f.index)


def test_influence_plot_reference_lines():
    f = hand_frame()
    ax = plot_influence(f).axes[0]
    assert sorted(ln.get_ydata()[0] for ln in lines(ax, "ref-h")) == [-2, 0, 2]
    hbar = f["hat_diag"].mean()
    assert sorted(ln.get_xdata()[0] for ln in lines(ax, "ref-v")) == pytest.approx([2 * hbar, 3 * hbar])
    assert "hat_diag" in ax.get_xlabel() and "student_resid" in ax.get_ylabel()
    # no negative residual (softmax: no sign): the +2 line only
    ax = plot_influence(hand_frame(signed=False)).axes[0]
    assert [ln.get_ydata()[0] for ln in lines(ax, "ref-h")] == [2]
    assert ax.get_ylim()[0] == 0


def test_influence_plot_draws_on_a_given_axes_and_integer_labels():
    f = hand_frame(index="int")
    fig, axes = plt.subplots(1, 2)
    assert plot_influence(f, ax=axes[1], top=2) is fig
    assert not axes[0].collections and len(axes[1].collections) == 2
    assert set(row_labels(axes[1])) == top_labels(f, "cooks_d", 2)


# -- plot_index -------------------------------------------------------------------------------
def test_index_plot_stems_at_numeric_row_labels():
    f = hand_frame(index="int").iloc[::-1]  # unsorted: plotted in label order
    ax = plot_index(f, "cooks_d").axes[0]
    segs = ax.collections[0].get_segments()
    assert len(segs) == len(f)
    got = sorted((s[0][0], s[1][1]) for s in segs)
    want = sorted(zip(f.index.astype(float), f["cooks_d"]))
    np.testing.assert_allclose(got, want)
    assert ax.get_ylabel() == "cooks_d" and ax.get_title() == "Index plot: cooks_d"


def test_index_plot_labels_the_largest_and_highlights_flagged():
    f = hand_frame()
    ax = plot_index(f, "fi_util", top=3).axes[0]
    labels = row_labels(ax)
    assert set(labels) == top_labels(f, "fi_util", 3)
    order = list(f.sort_index().index)  # text labels: positions in sorted order
    for name, (x, y) in labels.items():
        assert (x, y) == pytest.approx((order.index(name), f.loc[name, "fi_util"]))
    dots = ax.collections[1].get_offsets()
    assert len(dots) == f["flagged"].sum()
    np.testing.assert_allclose(sorted(dots[:, 1]), sorted(f.loc[f["flagged"], "fi_util"]))
    # a signed column: the largest |value|
    f["student_resid"] = np.r_[-9.0, np.zeros(len(f) - 1)]
    assert set(row_labels(plot_index(f, "student_resid", top=1).axes[0])) == {"case00"}


def test_index_plot_threshold_lines():
    f = hand_frame()
    ax = plot_index(f, "cooks_d", threshold="auto").axes[0]
    assert [ln.get_ydata()[0] for ln in lines(ax, "threshold")] == [pytest.approx(4 / len(f))]
    assert "4/n" in ax.get_legend().get_texts()[-1].get_text()
    ax = plot_index(f, "hat_diag", threshold=0.25).axes[0]
    assert [ln.get_ydata()[0] for ln in lines(ax, "threshold")] == [0.25]
    assert lines(plot_index(f).axes[0], "threshold") == []
    for bad in ("auto", "4/n", float("nan"), True, [1.0]):
        with pytest.raises(li.InputError, match="threshold"):
            plot_index(f, "fi_util", threshold=bad)


def test_index_plot_keeps_the_old_call():
    f = hand_frame().drop(columns=["cooks_d"])
    fig, ax = plt.subplots()
    assert plot_index(f, ax=ax, title="Index plot: mine") is fig
    assert ax.get_title() == "Index plot: mine" and ax.get_ylabel() == "fi_util"
    fig2, ax2 = plt.subplots()
    assert plot_index(f, ax2, "old positional title") is fig2  # plot_index(frame, ax, title)
    assert ax2.get_title() == "old positional title"
    no_flags = plot_index(f.drop(columns="flagged")).axes[0]
    assert len(no_flags.collections) == 1 and no_flags.get_legend() is None


# -- plot_fi_iv -------------------------------------------------------------------------------
def test_fi_iv_points_lines_and_quadrants():
    f = hand_frame()
    ax = plot_fi_iv(f, top=3).axes[0]
    np.testing.assert_allclose(collection(ax, "points").get_offsets(), f[["iv", "fi_util"]].to_numpy())
    assert [ln.get_xdata()[0] for ln in lines(ax, "iv-zero")] == [0]
    level = f.loc[f["flagged"], "fi_util"].min()
    assert [ln.get_ydata()[0] for ln in lines(ax, "fi-threshold")] == [pytest.approx(level)]
    lo, hi = ax.get_xlim()
    assert lo == pytest.approx(-hi) and hi >= f["iv"].abs().max()
    quads = sorted((t.get_position()[0], t.get_text()) for t in ax.texts if t.get_gid() == "quadrant")
    assert "sensitive" in quads[0][1] and "predicted harmful" in quads[0][1] and "IV < 0" in quads[0][1]
    assert "sensitive" in quads[1][1] and "predicted helpful" in quads[1][1] and "IV > 0" in quads[1][1]
    assert all(t.get_position()[1] > 0.9 for t in ax.texts if t.get_gid() == "quadrant")  # upper
    labels = row_labels(ax)
    assert set(labels) == top_labels(f, "fi_util", 3)
    for name, xy in labels.items():
        assert xy == pytest.approx((f.loc[name, "iv"], f.loc[name, "fi_util"]))


def test_fi_iv_threshold_without_flags_is_the_95th_percentile():
    f = hand_frame()
    q = np.quantile(f["fi_util"], 0.95)
    for frame in (f.drop(columns="flagged"), f.assign(flagged=False)):
        ax = plot_fi_iv(frame).axes[0]
        assert [ln.get_ydata()[0] for ln in lines(ax, "fi-threshold")] == [pytest.approx(q)]
        assert "95th percentile" in ax.get_legend().get_texts()[-1].get_text()


def test_fi_iv_scales():
    f = hand_frame()
    ax = plot_fi_iv(f).axes[0]
    assert ax.get_yscale() == "log" and ax.get_ylim()[1] > f["fi_util"].max()
    ax = plot_fi_iv(f, yscale="linear").axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] <= 0
    f.iloc[2, f.columns.get_loc("fi_util")] = 0.0  # drawn on the bottom edge of a log axis
    ax = plot_fi_iv(f).axes[0]
    assert collection(ax, "points").get_offsets()[2, 1] == pytest.approx(ax.get_ylim()[0])
    for bad in ("symlog", None, ["log"]):
        with pytest.raises(li.InputError, match="yscale"):
            plot_fi_iv(f, yscale=bad)
    with pytest.raises(li.InputError, match="fi_util"):
        plot_fi_iv(f.assign(fi_util=-f["fi_util"]))


# -- bad input --------------------------------------------------------------------------------
PLOTS = [plot_influence, plot_index, plot_fi_iv]


@pytest.mark.parametrize("plot", PLOTS, ids=lambda p: p.__name__)
def test_plots_refuse_what_they_cannot_draw(plot):
    f = hand_frame()
    for bad in (None, f.to_numpy(), [1, 2]):
        with pytest.raises(li.InputError, match="frame"):
            plot(bad)
    with pytest.raises(li.InputError, match="no rows"):
        plot(f.iloc[:0])
    column = {plot_influence: "hat_diag", plot_index: "fi_util", plot_fi_iv: "iv"}[plot]
    with pytest.raises(li.InputError, match=column):
        plot(f.drop(columns=column))
    for value in (np.nan, np.inf, -np.inf):
        g = f.copy()
        g.iloc[3, g.columns.get_loc(column)] = value
        with pytest.raises(li.InputError, match=f"{column}.*non-finite.*case03"):
            plot(g)
    with pytest.raises(li.InputError, match=column):
        plot(f.assign(**{column: "text"}))
    for top in (-1, 2.5, True, "3", None):
        with pytest.raises(li.InputError, match="top"):
            plot(f, top=top)


def test_influence_plot_refuses_a_bad_size():
    f = hand_frame()
    for size in ("cook", "hat_diag", None, 3):
        with pytest.raises(li.InputError, match="size"):
            plot_influence(f, size=size)
    with pytest.raises(li.InputError, match="cooks_d"):
        plot_influence(f.assign(cooks_d=-f["cooks_d"]))
    with pytest.raises(li.InputError, match="student_resid.*non-finite"):
        plot_influence(f.assign(student_resid=np.nan))


def test_fi_leverage_reads_hat_diag_or_leverage():
    f = hand_frame()
    for frame in (f, f.rename(columns={"hat_diag": "leverage"})):
        offsets = li.plot_fi_leverage(frame).axes[0].collections[0].get_offsets()
        np.testing.assert_allclose(offsets[:, 0], f["hat_diag"])
    with pytest.raises(li.InputError, match="leverage"):
        li.plot_fi_leverage(f.drop(columns="hat_diag"))


# -- real summary frames ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    y[0] = 1 - y[0]  # a mislabelled row
    Xv = rng.normal(size=(40, 3))
    yv = (Xv[:, 0] + rng.normal(size=40) > 0).astype(int)
    inf = li.LocalInfluence(li.LogisticRegression().fit(X, y), X, y)
    return inf.summary_frame(Xv, yv, index=[f"obs{i}" for i in range(60)])


def test_real_summary_frames_are_plotted(binary):
    f = binary
    ax = plot_influence(f).axes[0]
    assert len(collection(ax, "bubbles").get_offsets()) == 60
    p = 4  # three features and the intercept: mean leverage p / n
    assert sorted(ln.get_xdata()[0] for ln in lines(ax, "ref-v")) == pytest.approx([2 * p / 60, 3 * p / 60])
    assert sorted(ln.get_ydata()[0] for ln in lines(ax, "ref-h")) == [-2, 0, 2]
    assert set(row_labels(ax)) == top_labels(f, "cooks_d", 5)
    ax = plot_index(f, "cooks_d", threshold="auto").axes[0]
    assert len(ax.collections[0].get_segments()) == 60
    ax = plot_fi_iv(f).axes[0]
    assert set(row_labels(ax)) == top_labels(f, "fi_util", 5)
    assert [ln.get_ydata()[0] for ln in lines(ax, "fi-threshold")] == \
        [pytest.approx(f.loc[f["flagged"], "fi_util"].min())]


def test_softmax_summary_frame_draws_the_plus_two_line_only():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(45, 2))
    y = np.argmax(X @ rng.normal(size=(2, 3)) + rng.gumbel(size=(45, 3)), axis=1)
    f = li.LocalInfluence(li.SoftmaxRegression().fit(X, y), X, y).summary_frame()
    assert (f["student_resid"] >= 0).all()
    ax = plot_influence(f).axes[0]
    assert [ln.get_ydata()[0] for ln in lines(ax, "ref-h")] == [2]
    p = 2 * 3  # (features + intercept) for each of the classes 1 and 2
    assert sorted(ln.get_xdata()[0] for ln in lines(ax, "ref-v")) == pytest.approx([2 * p / 45, 3 * p / 45])
