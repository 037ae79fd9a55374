"""A deliberately wrong backend, for the test that the report catches it: its
Hessian is scaled by 1 + 1e-4, as a backend with a mis-scaled penalty would be."""

import localinf as li


def make(model, X, y):
    inf = li.LocalInfluence(model, X, y)
    if hasattr(inf.backend_, "_Hinv"):  # reference backend: keep its dense inverse consistent
        H = inf.H_inv_.hessian * (1 + 1e-4)
        inf.H_inv_ = inf.backend_.H_inv = li.InverseHessian(H)
        inf.backend_._Hinv = inf.H_inv_.todense()
    else:
        H = inf.H_inv_.hessian * (1 + 1e-4)
        inf.H_inv_ = inf.backend_.H_inv = li.InverseHessian(H)
    return inf
