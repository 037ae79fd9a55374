"""Brute-force local influence with autograd, one sample at a time.

Written from the definitions (eq. 2.1-2.3, 3.1, App. A.7, Cook 1986), sharing no
code with localinf except the documented parameter layout, so it is an
independent check of the closed forms. Only for small problems.
"""

import autograd.numpy as anp
import numpy as np
from autograd import grad, hessian, jacobian


class BruteForce:
    def __init__(self, X, y, K, l2, fit_intercept, theta):
        self.X, self.y, self.K, self.l2 = X, y, K, l2
        self.fit_intercept = fit_intercept
        self.n, self.d = X.shape
        self.q = self.d + int(fit_intercept)
        self.theta = theta
        self.H = hessian(self.risk)(theta)
        self.Hinv = np.linalg.inv(self.H)

    # layout: theta = [w_1, ..., w_{K-1}], w_k = (beta_k, b_k); class 0 has eta = 0
    def log_proba(self, theta, x):
        Wk = anp.reshape(theta, (self.K - 1, self.q))
        eta = anp.dot(Wk[:, :self.d], x)
        if self.fit_intercept:
            eta = eta + Wk[:, self.d]
        full = anp.concatenate([anp.zeros(1), eta])
        return full - anp.log(anp.sum(anp.exp(full - anp.max(full)))) - anp.max(full)

    def loss(self, theta, x, y):
        return -self.log_proba(theta, x)[y]

    def risk(self, theta):
        Wk = anp.reshape(theta, (self.K - 1, self.q))
        total = 0.0
        for i in range(self.n):
            total = total + self.loss(theta, self.X[i], self.y[i])
        return total / self.n + self.l2 * anp.sum(Wk[:, :self.d] ** 2)

    def grad_theta(self, x, y):
        return grad(self.loss, 0)(self.theta, x, y)

    def M(self, i):
        return jacobian(lambda x: grad(self.loss, 0)(self.theta, x, self.y[i]))(self.X[i])

    def D(self, i):
        return -self.Hinv @ self.M(i) / self.n

    def metric(self, i):
        x = self.X[i]
        Di = self.D(i)
        P = np.exp(self.log_proba(self.theta, x))
        G = np.zeros((self.d, self.d))
        for c in range(self.K):
            dlogp_dtheta = grad(lambda t: self.log_proba(t, x)[c])(self.theta)
            dlogp_dx = grad(lambda xx: self.log_proba(self.theta, xx)[c])(x)
            v = Di.T @ dlogp_dtheta + dlogp_dx
            G += P[c] * np.outer(v, v)
        return G

    def g(self, i, gL):
        return self.D(i).T @ gL

    @staticmethod
    def fi_value(G, g, rcond=1e-10):
        return float(g @ np.linalg.pinv(G, rcond=rcond, hermitian=True) @ g)

    def fi_pairs(self, Xq, yq):
        out = np.zeros((self.n, len(yq)))
        grads = [self.grad_theta(Xq[j], yq[j]) for j in range(len(yq))]
        for i in range(self.n):
            G = self.metric(i)
            for j in range(len(yq)):
                out[i, j] = self.fi_value(G, self.g(i, grads[j]))
        return out

    def fi_util(self, Xv, yv):
        gbar = np.mean([self.grad_theta(Xv[j], yv[j]) for j in range(len(yv))], axis=0)
        return np.array([self.fi_value(self.metric(i), self.g(i, gbar)) for i in range(self.n)])

    def influence_value(self, Xv, yv):
        gbar = np.mean([self.grad_theta(Xv[j], yv[j]) for j in range(len(yv))], axis=0)
        return np.array([gbar @ self.Hinv @ self.grad_theta(self.X[i], self.y[i]) for i in range(self.n)])

    def influence(self, Xt, yt):
        return np.array([[-self.grad_theta(Xt[t], yt[t]) @ self.Hinv @ self.grad_theta(self.X[i], self.y[i])
                          for t in range(len(yt))] for i in range(self.n)])

    def self_influence(self):
        return np.array([self.grad_theta(self.X[i], self.y[i]) @ self.Hinv @ self.grad_theta(self.X[i], self.y[i])
                         for i in range(self.n)])

    # Cook (1986): B = Delta^T (-L'')^{-1} Delta from the perturbed log-likelihood
    def _loglik(self, theta, omega, scheme, j=None):
        Wk = anp.reshape(theta, (self.K - 1, self.q))
        pen = self.n * self.l2 * anp.sum(Wk[:, :self.d] ** 2)
        total = 0.0
        s_y = np.std(self.y, ddof=1)
        for i in range(self.n):
            x = self.X[i]
            if scheme == "case-weight":
                total = total - omega[i] * self.loss(theta, x, self.y[i])
            elif scheme == "covariate":
                e = np.zeros(self.d)
                e[j] = np.std(self.X[:, j], ddof=1)
                total = total - self.loss(theta, x + omega[i] * e, self.y[i])
            else:  # response, binary: l = y eta - log(1 + e^eta)
                eta = anp.dot(Wk[0, :self.d], x) + (Wk[0, self.d] if self.fit_intercept else 0.0)
                yy = self.y[i] + omega[i] * s_y
                total = total + yy * eta - anp.logaddexp(0.0, eta)
        return total - pen

    def cook_B(self, scheme, j=None):
        omega0 = np.ones(self.n) if scheme == "case-weight" else np.zeros(self.n)
        Delta = jacobian(lambda w: grad(self._loglik, 0)(self.theta, w, scheme, j))(omega0)  # (p, n)
        Ldd = hessian(lambda t: self._loglik(t, omega0, scheme, j))(self.theta)
        return Delta.T @ np.linalg.solve(-Ldd, Delta)
