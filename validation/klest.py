"""The 1-D KL estimator of the Theorem 1 checks (sampling and policy-gradient reports): KL(q || GMM) from samples of
q, with the entropy of q by Vasicek m-spacings and the cross term exact, and its own error measured on exact samples
of known laws (the allowance every Theorem 1 check includes)."""
import math


def gmm_logpdf(x, w, mu, var):
    import numpy as np
    x = np.asarray(x, dtype=float).reshape(-1, 1)
    w, mu, var = (np.asarray(a, dtype=float) for a in (w, mu, var))
    lc = np.log(w) - 0.5 * np.log(2 * np.pi * var) - 0.5 * (x - mu) ** 2 / var
    mx = lc.max(axis=1)
    return mx + np.log(np.exp(lc - mx[:, None]).sum(axis=1))


def digamma_int(n):
    """psi(n) for an integer n >= 1."""
    if n < 1000:
        return -0.5772156649015329 + sum(1.0 / j for j in range(1, n))
    return math.log(n) - 1.0 / (2 * n) - 1.0 / (12.0 * n * n) + 1.0 / (120.0 * n ** 4)


def entropy_vasicek(x, m=10):
    """Vasicek m-spacing estimate of the differential entropy of 1-D samples, with the digamma correction that
    makes it exactly unbiased for a uniform law (spacings clamped at the sample ends)."""
    import numpy as np
    x = np.sort(np.asarray(x, dtype=float).ravel())
    n = len(x)
    i = np.arange(n)
    sp = np.maximum(x[np.minimum(i + m, n - 1)] - x[np.maximum(i - m, 0)], 1e-300)
    h = float(np.mean(np.log(n / (2.0 * m) * sp)))
    corr = (-math.log(n) + math.log(2 * m) - (1 - 2.0 * m / n) * digamma_int(2 * m) + digamma_int(n + 1)
            - 2.0 / n * sum(digamma_int(j + m - 1) for j in range(1, m + 1)))
    return h + corr


def kl_mspacing(x, w, mu, var):
    """KL(law of the 1-D samples x || GMM(w, mu, var)): m-spacing entropy, the cross term exact."""
    import numpy as np
    return -entropy_vasicek(x) - float(np.mean(gmm_logpdf(x, w, mu, var)))


def kl_estimator_validation(n, data, laws, nsets, seed=20240601):
    """The m-spacing KL estimator on NSETS independent sets of n exact samples of each law (name, (w, mu, var),
    exact KL to DATA): per law the estimates, the bias b (mean error), the standard deviation s of one estimate and
    the largest error.  Returns (per-law dicts, max over laws of |b| + s/sqrt(nsets), max over laws of s): the
    allowance for the estimator's own error in a Theorem 1 check."""
    import numpy as np
    rng = np.random.default_rng(seed)
    out = []
    for name, (ww, mm, vv), kl in laws:
        ests = []
        for _ in range(nsets):
            c = rng.choice(len(ww), size=n, p=np.array(ww) / sum(ww))
            x = np.array(mm)[c] + np.sqrt(np.array(vv))[c] * rng.standard_normal(n)
            ests.append(kl_mspacing(x, *data))
        err = np.array(ests) - kl
        out.append(dict(name=name, kl=kl, ests=ests, bias=float(err.mean()), sd=float(err.std(ddof=1)),
                        maxerr=float(np.abs(err).max())))
    bias = max(abs(o["bias"]) + o["sd"] / math.sqrt(nsets) for o in out)
    return out, bias, max(o["sd"] for o in out)
