"""The random-forest fill shared by Algorithms 6 and 8: exact scores on a subsample,
predicted ranks for every other row."""

import numpy as np


def forest_fill(X, scores_sub, rows, seed, n_estimators=100):
    """Ranks of all rows: exact on the subsample, predicted by a random forest elsewhere.

    The forest is fitted from the features of the scored rows to the ranks of
    their scores (ascending: the highest score gets the highest rank), and
    predicts a rank for every row.

    Parameters
    ----------
    X : ndarray (n, d)
        Features of every row.
    scores_sub : ndarray (s,)
        Exact scores of the subsample.
    rows : ndarray of int (s,)
        Positions of the subsample in X.
    seed : int
        ``random_state`` of the forest.
    n_estimators : int, default 100

    Returns
    -------
    ndarray (n,)
        Higher means scored higher; on the subsample, the exact rank.
    """
    # scikit-learn's ensemble module takes ~0.7 s to import: only Algorithms 6 and 8 need it
    from sklearn.ensemble import RandomForestRegressor
    ranks = np.argsort(np.argsort(scores_sub, kind="stable"), kind="stable").astype(float)
    forest = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=1)
    forest.fit(X[rows], ranks)
    out = forest.predict(X)
    out[rows] = ranks
    return out
