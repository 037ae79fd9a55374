"""Shared helpers of the experiment scripts: atomic outputs and small tables."""

import os

from localinf._core.io import save_figure, write_text  # noqa: F401  (re-exported for the scripts)


def out_dir(default="results"):
    path = os.environ.get("LOCALINF_EXPERIMENT_OUT", os.path.join(os.path.dirname(__file__), default))
    os.makedirs(path, exist_ok=True)
    return path


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def frame_markdown(df, fmt="{:.4f}"):
    """A pandas DataFrame as a markdown table (index included), without tabulate."""
    names = [str(n) for n in (df.index.names if df.index.nlevels > 1 else [df.index.name or ""])]
    header = names + [str(c) for c in df.columns]
    rows = []
    for idx, r in df.iterrows():
        idx = idx if isinstance(idx, tuple) else (idx,)
        rows.append(list(idx) + [fmt.format(v) if isinstance(v, float) else v for v in r])
    return markdown_table(header, rows)
