#!/usr/bin/python3
"""Neural PI-FT in plain PyTorch: the baseline of docs/performance.md.

A straightforward PyTorch (float64, CPU) implementation of the algorithm of
`hjbft neural` in its continuous mode (solvers/neural/, DESIGN.md sections 2,
3 and 6), written the way a typical user would write it: nn.Sequential MLPs,
torch.optim.Adam with a LambdaLR cosine schedule, torch.autograd.grad for
grad_x V; no torch.compile, no TorchScript.  It is used to time hjbft against
PyTorch on the same problem with the same hyper-parameters
(validation/benchmark_neural.py); it is not part of hjbft.

Problem (the cases the benchmark uses): GMM data with isotropic components,
vp forward SDE (h(tau) = h_min + (h_max - h_min) tau/T, H = int h,
m = exp(-H/2), v = 1 - m^2), eta = 1, constant beta, reward
r(x) = -scale/2 |x - c|^2 + b.x (quadratic) or b.x (linear).  With eta = 1,
B = Lambda = g^2 = h(T - t), Sigma = g and the reference drift
b(t, y) = h/2 y + h s(T - t, y), s the exact score of N(m mu_k, (m^2 s_k + v) I).

Outer iteration k (u^0 = 0: the control network's last layer starts at zero):
  1. P paths of N Euler-Maruyama steps from N(0, v(T) I) under u^k, running
     cost c_i = beta/2 Lambda(t_i) |u|^2 dt;
  2. TD(0) policy evaluation: V(t, x) = r(x) + (1 - t/T) N_psi([x; emb(t)]),
     minibatches of pairs (step i < N, path j) drawn uniformly, target
     V_frozen(t_{i+1}, Y_{i+1}) - c_i (V_frozen(T) = r), the frozen copy
     refreshed every td_refresh Adam steps (and at step 0);
  3. policy improvement: u_theta(t_i, Y_i) -> gain grad_x V(t_i, Y_i)
     (gain = 1/beta), squared error weighted by Lambda(t_i) normalised to mean
     1 over the steps;
  4. measure: u^{k+1} on the reference grid at its saved times, L2 error
     weighted by the fine-tuned marginal p_{T-t}(x) exp(V*(t,x)/beta)
     (normalised per time over the grid), sqrt(mean over times of
     sum_x w |u - u*|^2): hjbft's /history/error_control_l2.
Each fit has a fresh Adam (moments reset) and the cosine schedule
lr (r + (1 - r)(1 + cos(pi s/S))/2) over its S steps; the networks are
warm-started from the previous outer iteration.

    /usr/bin/python3 validation/pytorch_pift.py --reference exact.h5 --json out.json
    /usr/bin/python3 validation/pytorch_pift.py --check-error neural.h5 --reference exact.h5
"""
import argparse
import copy
import ctypes
import json
import math
import os
import re
import sys
import time

import h5py
import numpy as np
import torch
from torch import nn


def floats(s):
    return [float(v) for v in s.split(",")] if s else []


def ints(s):
    return [int(v) for v in s.split(",")] if s else []


# --------------------------------------------------------------------------
# The problem

class Problem:
    def __init__(self, a):
        d = self.d = a.dim
        self.T, self.hmin, self.hmax = a.sde_T, a.sde_hmin, a.sde_hmax
        self.beta = a.beta
        if a.target_weights:
            w = floats(a.target_weights)
            mu = floats(a.target_means)
            var = floats(a.target_vars) or [0.25]
        else:  # hjbft's default target: modes at -2 e_0 and +2 e_0, variance 0.25
            w, mu, var = [0.5, 0.5], [0.0] * (2 * d), [0.25]
            mu[0], mu[d] = -2.0, 2.0
        K = len(w)
        if len(mu) != K * d:
            sys.exit("pytorch_pift: --target-means needs K x d values")
        if len(var) == 1:
            var = var * K
        self.logw = torch.log(torch.tensor(w, dtype=torch.float64))
        self.mu = torch.tensor(mu, dtype=torch.float64).reshape(K, d)
        self.var = torch.tensor(var, dtype=torch.float64)
        lin = a.reward == "linear"
        c = floats(a.reward_center) or [0.0 if lin else 1.0]
        b = floats(a.reward_vector) or [1.0 if lin else 0.0]
        self.c = torch.tensor(c * d if len(c) == 1 else c, dtype=torch.float64)
        self.b = torch.tensor(b * d if len(b) == 1 else b, dtype=torch.float64)
        self.scale = 0.0 if lin else a.reward_scale

    def h(self, tau):
        return self.hmin + (self.hmax - self.hmin) * tau / self.T

    def m_v(self, tau):
        H = self.hmin * tau + 0.5 * (self.hmax - self.hmin) * tau * tau / self.T
        m = math.exp(-0.5 * H)
        return m, 1.0 - m * m

    def _components(self, tau, x):
        m, v = self.m_v(tau)
        cvar = m * m * self.var + v                                 # (K,)
        diff = x[:, None, :] - m * self.mu[None, :, :]              # (n, K, d)
        logp = (self.logw - 0.5 * self.d * torch.log(2 * math.pi * cvar)
                - 0.5 * (diff * diff).sum(-1) / cvar)               # (n, K)
        return logp, diff, cvar

    def score(self, tau, x):
        logp, diff, cvar = self._components(tau, x)
        gamma = torch.softmax(logp, dim=1)
        return -(gamma[:, :, None] * diff / cvar[None, :, None]).sum(1)

    def log_density(self, tau, x):
        logp, _, _ = self._components(tau, x)
        return torch.logsumexp(logp, dim=1)

    def reward(self, x):
        dx = x - self.c
        return -0.5 * self.scale * (dx * dx).sum(-1) + x @ self.b

    def reward_grad(self, x):
        return -self.scale * (x - self.c) + self.b


def embedding(t, T, n_freq):
    """[t/T, sin(2 pi j t/T), cos(2 pi j t/T), j = 1..n_freq] for a tensor of times."""
    s = t / T
    feats = [s]
    for j in range(1, n_freq + 1):
        feats += [torch.sin(2 * math.pi * j * s), torch.cos(2 * math.pi * j * s)]
    return torch.stack(feats, dim=-1)


def mlp(n_in, hidden, n_out, zero_last=False):
    layers, w = [], n_in
    for h in hidden:
        layers += [nn.Linear(w, h), nn.Tanh()]
        w = h
    layers.append(nn.Linear(w, n_out))
    net = nn.Sequential(*layers).double()
    for mod in net:
        if isinstance(mod, nn.Linear):
            nn.init.xavier_uniform_(mod.weight)  # Glorot uniform, as hjbft
            nn.init.zeros_(mod.bias)
    if zero_last:
        nn.init.zeros_(net[-1].weight)  # u^0 = 0: the pre-trained model
    return net


def cosine(total, r):
    return lambda s: r + (1 - r) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total))


# --------------------------------------------------------------------------
# The reference (an `hjbft exact` file) and the error

class Reference:
    """u* and the fine-tuned marginal weights on the grid of an hjbft result file."""

    def __init__(self, path, prob):
        with h5py.File(path, "r") as f:
            d = prob.d
            axes = [f["grid/x%d" % a][()] for a in range(d)]
            self.times = f["time"][()]
            V = f["value"][()]
            U = f["control"][()]
        mesh = np.meshgrid(*axes, indexing="ij")  # x0 fastest in the file: flatten reversed axes
        pts = np.stack([g.transpose(tuple(range(d))[::-1]).reshape(-1) for g in mesh], axis=1)
        self.points = torch.tensor(pts, dtype=torch.float64)              # (n, d), natural ordering
        nt, n = len(self.times), pts.shape[0]
        self.U = torch.tensor(U.reshape(nt, n, d))
        V = torch.tensor(V.reshape(nt, n))
        self.weights = []
        for j, t in enumerate(self.times):
            lw = prob.log_density(prob.T - t, self.points) + V[j] / prob.beta
            w = torch.exp(lw - lw.max())
            self.weights.append(w / w.sum())
        self.weights = torch.stack(self.weights)                            # (nt, n)

    def error(self, U):
        """L2 error of U (nt, n, d) weighted by the fine-tuned marginal."""
        e2 = (self.weights * ((U - self.U) ** 2).sum(-1)).sum(1)
        return math.sqrt(float(e2.mean()))


# --------------------------------------------------------------------------
# PI-FT

class PiFt:
    def __init__(self, prob, a):
        self.p, self.a = prob, a
        d, E = prob.d, 1 + 2 * a.time_freq
        self.vnet = mlp(d + E, a.value_hidden, 1)
        self.unet = mlp(d + E, a.control_hidden, d, zero_last=True)
        N = a.steps
        self.times = torch.arange(N + 1, dtype=torch.float64) * prob.T / N
        self.emb = embedding(self.times, prob.T, a.time_freq)                # (N+1, E)
        self.h_t = torch.tensor([prob.h(prob.T - float(t)) for t in self.times])  # g^2 = B = Lambda at t_i

    def inputs(self, t_emb, x):
        return torch.cat([x, t_emb.expand(x.shape[0], -1)], dim=1)

    @torch.no_grad()
    def simulate(self):
        p, a = self.p, self.a
        N, P, dt = a.steps, a.paths, p.T / a.steps
        _, vT = p.m_v(p.T)
        Y = [math.sqrt(vT) * torch.randn(P, p.d, dtype=torch.float64)]
        cost = torch.empty(N, P, dtype=torch.float64)
        for i in range(N):
            t, y = float(self.times[i]), Y[-1]
            h = p.h(p.T - t)
            u = self.unet(self.inputs(self.emb[i], y))
            drift = 0.5 * h * y + h * p.score(p.T - t, y) + h * u
            Y.append(y + drift * dt + math.sqrt(h * dt) * torch.randn_like(y))
            cost[i] = 0.5 * p.beta * h * dt * (u * u).sum(1)
        return torch.stack(Y), cost                                          # (N+1, P, d), (N, P)

    def stack(self, Y):
        """All pairs (i, j) as rows i * P + j: network inputs, r, the weight 1 - t_i/T."""
        N1, P, d = Y.shape
        X = Y.reshape(N1 * P, d)
        In = torch.cat([X, self.emb.repeat_interleave(P, dim=0)], dim=1)
        r = self.p.reward(X)
        w = (1 - self.times / self.p.T).repeat_interleave(P)
        return X, In, r, w

    def fit_value(self, Y, cost):
        a = self.a
        N, P = a.steps, a.paths
        _, In, r, w = self.stack(Y)
        c = cost.reshape(-1)
        net = self.vnet
        frozen = copy.deepcopy(net)
        opt = torch.optim.Adam(net.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine(a.value_steps, a.lr_min_ratio))
        tail = []
        for s in range(a.value_steps):
            if s % a.td_refresh == 0:
                frozen.load_state_dict(net.state_dict())
            idx = torch.randint(0, N * P, (a.batch,))
            nxt = idx + P
            with torch.no_grad():
                target = r[nxt] + w[nxt] * frozen(In[nxt]).squeeze(1) - c[idx]
            pred = r[idx] + w[idx] * net(In[idx]).squeeze(1)
            loss = ((pred - target) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if 4 * s >= 3 * a.value_steps:
                tail.append(loss.item())
        return sum(tail) / max(len(tail), 1)

    def fit_control(self, Y):
        a, p = self.a, self.p
        N, P, d = a.steps, a.paths, p.d
        X, In, _, w = self.stack(Y)
        lam = p.beta * self.h_t[:N]
        lam = lam * N / lam.sum()                    # Lambda(t_i) normalised to mean 1 over the steps
        step_w = lam.repeat_interleave(P)
        gain = 1.0 / p.beta                          # B / (beta Lambda), eta = 1
        vnet, net = self.vnet, self.unet
        for q in vnet.parameters():
            q.requires_grad_(False)
        opt = torch.optim.Adam(net.parameters(), lr=a.lr, betas=(0.9, 0.999), eps=1e-8)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine(a.control_steps, a.lr_min_ratio))
        tail = []
        for s in range(a.control_steps):
            idx = torch.randint(0, N * P, (a.batch,))
            xin = In[idx].requires_grad_(True)
            gN = torch.autograd.grad(vnet(xin).sum(), xin)[0][:, :d]
            target = gain * (p.reward_grad(X[idx]) + w[idx, None] * gN)
            loss = (step_w[idx] * ((net(In[idx]) - target) ** 2).sum(1)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            if 4 * s >= 3 * a.control_steps:
                tail.append(loss.item())
        for q in vnet.parameters():
            q.requires_grad_(True)
        return sum(tail) / max(len(tail), 1)

    @torch.no_grad()
    def control_on_grid(self, ref):
        emb = embedding(torch.tensor(ref.times), self.p.T, self.a.time_freq)
        return torch.stack([self.unet(self.inputs(emb[j], ref.points)) for j in range(len(ref.times))])


def run(prob, a):
    torch.manual_seed(a.seed)
    ref = Reference(a.reference, prob) if a.reference else None
    pift = PiFt(prob, a)
    hist = {k: [] for k in ("iteration", "objective", "loss_value", "loss_control", "error_control_l2",
                            "time_simulate", "time_fit_value", "time_fit_control", "time_measure",
                            "wall_time", "cpu_time")}
    t_start = time.perf_counter()
    for k in range(a.outer):
        c0, t0 = time.process_time(), time.perf_counter()
        Y, cost = pift.simulate()
        t1 = time.perf_counter()
        lv = pift.fit_value(Y, cost)
        t2 = time.perf_counter()
        lu = pift.fit_control(Y)
        t3 = time.perf_counter()
        J = float((prob.reward(Y[-1]) - cost.sum(0)).mean())
        err = ref.error(pift.control_on_grid(ref)) if ref else float("nan")
        t4 = time.perf_counter()
        for key, val in (("iteration", k), ("objective", J), ("loss_value", lv), ("loss_control", lu),
                         ("error_control_l2", err), ("time_simulate", t1 - t0), ("time_fit_value", t2 - t1),
                         ("time_fit_control", t3 - t2), ("time_measure", t4 - t3), ("wall_time", t4 - t0),
                         ("cpu_time", time.process_time() - c0)):
            hist[key].append(val)
        print("  k=%2d  J(u^k) %.5f  |u-u*| L2 %.3e  losses %.2e %.2e  %.2fs (sim %.2f, V %.2f, u %.2f, meas %.2f)"
              % (k, J, err, lv, lu, t4 - t0, t1 - t0, t2 - t1, t3 - t2, t4 - t3), flush=True)
    return hist, time.perf_counter() - t_start


def check_error(a, prob):
    """Apply the error function to an hjbft neural result: it must reproduce its last error_control_l2."""
    ref = Reference(a.reference, prob)
    with h5py.File(a.check_error, "r") as f:
        U = torch.tensor(f["control"][()]).reshape(ref.U.shape)
        want = float(f["history/error_control_l2"][-1])
        t = f["time"][()]
    if not np.allclose(t, ref.times):
        sys.exit("pytorch_pift: the two files have different saved times")
    got = ref.error(U)
    rel = abs(got - want) / want
    print("error_control_l2: recomputed %.12e, hjbft %.12e, relative difference %.2e" % (got, want, rel))
    return rel


def blas_info():
    """Which BLAS this process actually uses: the BLAS/LAPACK shared objects mapped into it (/proc/self/maps),
    OpenBLAS's own configuration and thread count when it is one of them, the Debian alternative libblas.so.3
    points to, torch's build setting (BLAS_INFO) and the threads of the process (call after the run)."""
    libs = []
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            base = os.path.basename(path)
            if re.search(r"blas|lapack|mkl|blis|atlas", base, re.I) and path not in libs:
                libs.append(path)
    info = {"mapped": libs,
            "alternative": os.path.realpath("/etc/alternatives/libblas.so.3-x86_64-linux-gnu"),
            "torch_blas_info": (re.search(r"BLAS_INFO=(\w+)", torch.__config__.show()) or [None, "?"])[1],
            "torch_threads": torch.get_num_threads(),
            "process_threads": len(os.listdir("/proc/self/task"))}
    for path in libs:
        if "openblas" in os.path.basename(path):
            try:
                lib = ctypes.CDLL(path)
                lib.openblas_get_config.restype = ctypes.c_char_p
                info["openblas_config"] = lib.openblas_get_config().decode()
                lib.openblas_get_corename.restype = ctypes.c_char_p
                info["openblas_core"] = lib.openblas_get_corename().decode()
                info["openblas_threads"] = lib.openblas_get_num_threads()
            except (OSError, AttributeError):
                pass
            break
    return info


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_argument_group("problem (hjbft's options of the same name)")
    g.add_argument("--dim", type=int, default=1)
    g.add_argument("--sde-T", type=float, default=1.0)
    g.add_argument("--sde-hmin", type=float, default=0.1)
    g.add_argument("--sde-hmax", type=float, default=20.0)
    g.add_argument("--target-weights", default="")
    g.add_argument("--target-means", default="")
    g.add_argument("--target-vars", default="")
    g.add_argument("--reward", choices=("linear", "quadratic"), default="quadratic")
    g.add_argument("--reward-center", default="")
    g.add_argument("--reward-scale", type=float, default=1.0)
    g.add_argument("--reward-vector", default="")
    g.add_argument("--beta", type=float, default=1.0)
    g = ap.add_argument_group("PI-FT (hjbft neural's -neural_* defaults)")
    g.add_argument("--outer", type=int, default=8)
    g.add_argument("--paths", type=int, default=4096)
    g.add_argument("--steps", type=int, default=100)
    g.add_argument("--td-refresh", type=int, default=100)
    g.add_argument("--value-hidden", type=ints, default=[32, 32])
    g.add_argument("--control-hidden", type=ints, default=[32, 32])
    g.add_argument("--time-freq", type=int, default=2)
    g.add_argument("--value-steps", type=int, default=1500)
    g.add_argument("--control-steps", type=int, default=800)
    g.add_argument("--batch", type=int, default=1024)
    g.add_argument("--lr", type=float, default=3e-3)
    g.add_argument("--lr-min-ratio", type=float, default=0.1)
    g.add_argument("--seed", type=int, default=1)
    g = ap.add_argument_group("run")
    g.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    g.add_argument("--reference", default="", help="an `hjbft exact` file on the error grid")
    g.add_argument("--json", default="", help="write the per-iteration history here")
    g.add_argument("--check-error", default="", metavar="NEURAL.h5",
                   help="only recompute the last error_control_l2 of an hjbft neural file (needs --reference)")
    return ap.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    torch.set_num_threads(a.threads)
    prob = Problem(a)
    if a.check_error:
        if not a.reference:
            sys.exit("pytorch_pift: --check-error needs --reference")
        rel = check_error(a, prob)
        return 0 if rel < 1e-6 else 1
    print("pytorch_pift: torch %s, %d thread(s), d=%d, %d paths x %d steps, value net %s, control net %s"
          % (torch.__version__, torch.get_num_threads(), prob.d, a.paths, a.steps, a.value_hidden,
             a.control_hidden), flush=True)
    hist, total = run(prob, a)
    blas = blas_info()
    print("  done in %.2fs; BLAS: %s%s, %d process thread(s)"
          % (total, ", ".join(blas["mapped"]) or "none mapped",
             (" (%s, core %s, %d thread(s))" % (blas["openblas_config"], blas.get("openblas_core", "?"),
                                                 blas["openblas_threads"])) if "openblas_config" in blas else "",
             blas["process_threads"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"history": hist, "wall_time": total, "threads": torch.get_num_threads(),
                       "torch": torch.__version__, "blas": blas, "args": vars(a)}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
