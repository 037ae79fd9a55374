"""Sample moments of the observations (private): a row of frequency weight w counts w times."""


def sample_covariance(X, weights=None):
    """The sample covariance (divisor N - 1) of the observations of X.

    Parameters
    ----------
    X : ndarray (n, d)
    weights : ndarray (n,), optional
        Frequency weights: row i counts ``weights[i]`` times, N = their sum
        (default all one, N = n).

    Returns
    -------
    ndarray (d, d)
        Equal, for integer weights, to the covariance of X with each row repeated.
    """
    if weights is None:
        Xc = X - X.mean(axis=0)
        return Xc.T @ Xc / max(X.shape[0] - 1, 1)
    N = weights.sum()
    Xc = X - weights @ X / N
    return Xc.T @ (Xc * weights[:, None]) / max(N - 1, 1)
