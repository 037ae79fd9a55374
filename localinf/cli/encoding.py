"""The design of a data file, fitted once on the training file and applied to every other file.

Each column of the training file becomes one of

* a number (kept as it is);
* a category: one 0/1 column per level except the first (sorted) level, the
  levels fixed by the training file, so a validation file holding one level
  still means what it means in training, and an unseen level is an error;
* an identifier (non-numeric with every value distinct, or R's row-name
  column): not a feature; it is dropped with a note and labels the rows of
  the output (R's row-name column first, else the first identifier).

Columns that cannot be features are refused with the remedy: a category with
more levels than ``max_levels``, numbers written with decimal commas.
"""

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._core.budget import check_memory
from .errors import UsageError

# Names under which a data frame's row labels arrive as a column (R's write.csv
# writes an unnamed first column; pandas calls it "Unnamed: 0").
_ROWNAME_COLUMNS = ("", "Unnamed: 0", "rownames", "row.names")
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d*,\d+\s*$")


def _is_text(series):
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


@dataclass
class Encoder:
    """The training file's design: numbers, categories with their levels, identifiers, labels.

    Parameters
    ----------
    target : str
        The label column.
    max_levels : int, default 50
        Most levels a text column may have to be one-hot encoded.
    keep_id : bool, default False
        Keep identifier-like columns as features (then subject to ``max_levels``).

    Attributes
    ----------
    numeric_ : list of str
    categories_ : dict of str to list of str
        Each categorical column's levels, the first being the reference.
    dropped_ : list of str
        Identifier columns left out.
    row_labels_ : str or None
        The row-name column whose values label the rows.
    levels_ : ndarray (K,)
        The label values, sorted; label k is ``levels_[k]``.
    notes_ : list of str
        What was dropped or assumed, for the report.
    """

    target: str
    max_levels: int = 50
    keep_id: bool = False
    numeric_: list = field(default_factory=list, init=False)
    categories_: dict = field(default_factory=dict, init=False)
    dropped_: list = field(default_factory=list, init=False)
    row_labels_: object = field(default=None, init=False)
    levels_: object = field(default=None, init=False)
    notes_: list = field(default_factory=list, init=False)

    def fit(self, frame):
        """Decide each column's role from the training frame.

        Parameters
        ----------
        frame : pandas.DataFrame (n, columns)

        Returns
        -------
        self
        """
        y = frame[self.target]
        if y.isna().any():
            raise UsageError(f"target column {self.target!r} has {int(y.isna().sum())} missing values; "
                             "pass --dropna to drop those rows")
        self.levels_ = np.sort(y.unique())
        if self.levels_.size < 2:
            raise UsageError(f"target column {self.target!r} has a single class")
        n = len(frame)
        width = 0
        for col in frame.columns.drop(self.target):
            s = frame[col]
            name = str(col)
            distinct = s.nunique(dropna=True)
            if _is_text(s) and len(s.dropna()) and pd.to_numeric(s.dropna(), errors="coerce").notna().all():
                raise UsageError(f"column {name!r} holds numbers that were read as text ({s.dropna().iloc[0]!r}); "
                                 "check --decimal and --sep against the file")
            if not self.keep_id and distinct == n and n >= 2 and \
                    (_is_text(s) or name in _ROWNAME_COLUMNS):
                self.dropped_.append(name)
                if self.row_labels_ is None or name in _ROWNAME_COLUMNS:
                    self.row_labels_ = name
                self.notes_.append(f"column {name!r} looks like an identifier ({n} distinct values) "
                                   "and is not used as a feature (--keep-id keeps it)")
                continue
            if not _is_text(s):
                self.numeric_.append(name)
                width += 1
                continue
            text = s.dropna().astype(str)
            if len(text) and text.str.match(_DECIMAL_COMMA).all():
                raise UsageError(f"column {name!r} holds numbers with decimal commas ({text.iloc[0]!r}); "
                                 "pass --decimal ',' (and --sep ';' if the fields are separated by ';')")
            if distinct > self.max_levels:
                raise UsageError(f"column {name!r} has {distinct} distinct text values, more than "
                                 f"--max-levels {self.max_levels}: drop it from the file, encode it "
                                 "yourself, or raise --max-levels")
            self.categories_[name] = sorted(text.unique())
            width += max(distinct - 1, 0)
        if width == 0:
            raise UsageError("no feature columns besides the target")
        check_memory(8 * n * width, f"the design matrix ({n} rows x {width} columns)",
                     "drop columns or raise --max-levels less")
        return self

    @property
    def columns_(self):
        """The design's column names: the numbers, then each category's indicator columns.

        Returns
        -------
        list of str
        """
        cols = list(self.numeric_)
        for name, levels in self.categories_.items():
            cols += [f"{name}_{level}" for level in levels[1:]]
        return cols

    def transform(self, frame, what):
        """The design matrix and labels of ``frame`` under the training file's encoding.

        Parameters
        ----------
        frame : pandas.DataFrame
            The training file or another one (validation, pool, test).
        what : str
            The file's name, for the messages.

        Returns
        -------
        X : pandas.DataFrame (m, d)
            Columns :attr:`columns_`, index the row labels.
        y : ndarray of int (m,)
            Labels as positions in :attr:`levels_`.
        """
        used = self.numeric_ + list(self.categories_) + [self.target]
        missing = [c for c in used if c not in frame.columns]
        if missing:
            raise UsageError(f"{what} lacks the column(s) {', '.join(map(repr, missing))} of the training data")
        index = pd.Index(frame[self.row_labels_], name="row") if self.row_labels_ else frame.index
        parts = {}
        for name in self.numeric_:
            s = frame[name]
            if _is_text(s):
                s = pd.to_numeric(s, errors="coerce")
                if s.isna().any() and not frame[name].isna().all():
                    raise UsageError(f"{what}: column {name!r} is numeric in the training data but "
                                     f"holds text here (e.g. {frame[name][s.isna()].iloc[0]!r})")
            parts[name] = s.to_numpy(dtype=float)
        for name, levels in self.categories_.items():
            text = frame[name].astype(str)
            unseen = sorted(set(text.unique()) - set(levels))
            if unseen:
                raise UsageError(f"{what}: column {name!r} has level(s) {', '.join(map(repr, unseen[:5]))} "
                                 "absent from the training data")
            for level in levels[1:]:
                parts[f"{name}_{level}"] = (text == level).to_numpy(dtype=float)
        X = pd.DataFrame(parts, index=index)[self.columns_]
        if X.isna().any().any():
            bad = X.columns[X.isna().any()].tolist()
            raise UsageError(f"{what}: missing values in column(s) {', '.join(map(repr, bad[:5]))}; "
                             "pass --dropna to drop those rows")
        y_raw = frame[self.target].to_numpy()
        known = set(self.levels_)
        unseen = [v for v in pd.unique(y_raw) if v not in known]
        if unseen:
            raise UsageError(f"{what}: target value(s) {', '.join(map(repr, unseen[:5]))} are absent "
                             "from the training data")
        return X, np.searchsorted(self.levels_, y_raw)
