"""Entropic Gromov-Wasserstein (Peyre, Cuturi, Solomon 2016) between two point clouds, in torch.

The dual music-dance system aligns the embedding spaces of its two encoders with it: the
music windows of a batch and their dance windows are two metric spaces, compared through
their intra-space distance matrices only, so the loss reaches the music encoder without any
common coordinate system.

For C1 (n, n), C2 (m, m), uniform weights p = 1/n, q = 1/m and the square loss, the solver
runs exactly POT's `ot.gromov.entropic_gromov_wasserstein` (solver "PGD", no warm start):

    T_0 = p q^T
    repeat `outer_iterations` times:
        G = 2 (constC - 2 C1 T C2^T)       constC_ij = sum_k C1_ik^2 p_k + sum_l C2_jl^2 q_l
        T = Sinkhorn(p, q, cost G, epsilon, `sinkhorn_iterations` scaling steps from u = 1/n)
    value = sum_ij T_ij (constC - 2 C1 T C2^T)_ij

and returns the same value as `ot.gromov.entropic_gromov_wasserstein2` (the quadratic GW
term at the final plan; the entropy term is not included). Both run a fixed number of
iterations here (POT's early stops, checked every 10th iteration, need its `tol` and
`stopThr` set to 0 to run the same count).

The gradient is that of the whole unrolled computation (the one POT's torch backend gets by
autograd), written by hand in `_EntropicPlan.backward`: one reverse sweep over stored
Sinkhorn scalings, without an autograd graph of the 20 x 30 x 4 small operations, which is
where most of the time goes at batch sizes 16..256 (see benchmarks/gromov_wasserstein.py).

Scaled (not log-domain) Sinkhorn, with the cost shifted by its minimum first (the plan is
exactly invariant to a constant shift). With distance matrices normalised to [0, 1]
(`normalised_cityblock`) the cost G lies in [-4, 4], so the kernel exp(-G / epsilon) spans at
most exp(-8 / epsilon): e^-40 at epsilon 0.2, within float32. Raw L1 distances of 53 or 147
features are in the tens to hundreds and give 0 / 0 = NaN in float32, hence the normalisation.
In practice G spans far less than 8 (about 0.2 for Gaussian clouds), and float32 stays finite
down to epsilon 0.002 there; a worst-case span needs float64 below epsilon 0.1.

Choosing epsilon: on max-normalised distances, epsilon 0.2 (the paper's, in DESIGN.md) keeps
the plan close to the independent coupling p q^T, so the value depends little on which points
match which: for 48 Gaussian points in 6-D, a cloud against an isometric copy of itself scores
0.0517 and against an independent cloud 0.0519. The matching only shows below about 0.02
(at 0.005: 0.0011 against 0.0171); see tests/test_gromov_wasserstein.py.

At the dual model's sizes (n = 32..64 embeddings of d = 64..256 dimensions) the distances
concentrate (all within ~20% of their mean), and max normalisation leaves them in a narrow
band near 1: on an exact isometry (orthogonal rotation + permutation) of 32 x 64 Gaussian
embeddings, the plan's mass on the true pairs is 0.032 at epsilon 0.2 and 0.042 at 0.02
(independence: 1/32 = 0.031), and at 64 x 256 it stays at independence down to 0.005.
`range_normalised` distances (off-diagonal minimum -> 0, maximum -> 1) spread the band over
[0, 1]; then epsilon 0.005 puts 0.98-1.00 of the mass on the true pairs at both sizes (5
seeds each; 0.01 fails at 64 x 256, 0.001 is unstable at 32 x 64), with
`log_domain_gw_plan`, whose log-domain Sinkhorn stays finite where the scaled kernel would
underflow (cost span > ~87 epsilon). tests/test_gromov_wasserstein_match.py holds these
settings to that, and checks that the gradient moves a linear encoder towards the match.
The paper's epsilon 0.2 is meant for raw L1 distances (Algorithm 1), where its effect depends
on the embeddings' scale: on the same isometric pairs (log domain, 3 seeds) the mass on the
true pairs is 0.04-0.08 at unit-variance embeddings of 32 x 64 (max distance ~90: the plan
freezes in a poor local minimum), 0.53-0.81 scaled by 0.1, 0.03 (independence) scaled by 0.01.
"""

from __future__ import annotations

import math

import torch

EPSILON = 0.2
OUTER_ITERATIONS = 20
SINKHORN_ITERATIONS = 30


def normalised_cityblock(x: torch.Tensor) -> torch.Tensor:
    """L1 (cityblock) distances (n, n) between the rows of `x` (n, d), divided by their
    maximum so that they lie in [0, 1] (a cloud of one repeated point gives all zeros)."""
    if x.dim() != 2:
        raise ValueError(f"points of shape {tuple(x.shape)}: expected (n, d)")
    d = (x.unsqueeze(1) - x.unsqueeze(0)).abs().sum(dim=-1)
    return d / d.max().clamp_min(torch.finfo(d.dtype).tiny)


def range_normalised(d: torch.Tensor) -> torch.Tensor:
    """Distance matrix (n, n) -> its off-diagonal entries mapped affinely onto [0, 1] (the
    smallest to 0, the largest to 1), the diagonal kept at 0. In d_model 64..256 dimensions the
    distances of n = 32..64 embeddings concentrate (all within ~20% of their mean), so max
    normalisation leaves them in a narrow band near 1 and the GW cost nearly constant: the
    entropic plan stays near independence at any usable epsilon (tests/
    test_gromov_wasserstein_match.py). An isometry maps the matrix to a permutation of itself,
    so the exact match is kept. n = 1 or all distances equal: zeros."""
    n = d.shape[0]
    if n < 2:
        return torch.zeros_like(d)
    off = ~torch.eye(n, dtype=torch.bool, device=d.device)
    values = d[off]
    low, high = values.min(), values.max()
    scaled = (d - low) / (high - low).clamp_min(torch.finfo(d.dtype).tiny)
    return torch.where(off, scaled, torch.zeros_like(d))


def distance_matrix(x: torch.Tensor, normalise: str = "max") -> torch.Tensor:
    """L1 (cityblock, the paper's eq. 5) distances (n, n) between the rows of `x` (n, d),
    normalised by "max" (`normalised_cityblock`, into [0, 1] by the maximum) or "range"
    (`range_normalised`), or "none": raw, in the embeddings' units, as the paper's Algorithm 1
    has them (then epsilon's meaning depends on the embeddings' scale, and only the "log"
    solver is safe)."""
    if normalise == "none":
        if x.dim() != 2:
            raise ValueError(f"points of shape {tuple(x.shape)}: expected (n, d)")
        return (x.unsqueeze(1) - x.unsqueeze(0)).abs().sum(dim=-1)
    if normalise == "max":
        return normalised_cityblock(x)
    if normalise == "range":
        if x.dim() != 2:
            raise ValueError(f"points of shape {tuple(x.shape)}: expected (n, d)")
        return range_normalised((x.unsqueeze(1) - x.unsqueeze(0)).abs().sum(dim=-1))
    raise ValueError(f"normalise {normalise!r}: 'max', 'range' or 'none'")


def _check(c1: torch.Tensor, c2: torch.Tensor, sinkhorn_iterations: int) -> None:
    for name, c in (("c1", c1), ("c2", c2)):
        if c.dim() != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
            raise ValueError(f"{name} of shape {tuple(c.shape)}: expected a square (n, n) "
                             "distance matrix")
    if c1.dtype != c2.dtype or c1.device != c2.device:
        raise ValueError(f"c1 ({c1.dtype}, {c1.device}) and c2 ({c2.dtype}, {c2.device}) "
                         "differ in dtype or device")
    if sinkhorn_iterations < 1:
        raise ValueError("sinkhorn_iterations must be at least 1")


def _const(c1: torch.Tensor, c2: torch.Tensor) -> torch.Tensor:
    """(n, m) constC of the square loss with uniform weights: mean_k C1_ik^2 + mean_l C2_jl^2."""
    return c1.square().mean(dim=1).unsqueeze(1) + c2.square().mean(dim=1).unsqueeze(0)


class _EntropicPlan(torch.autograd.Function):
    """(C1, C2) -> final plan T (n, m) of the entropic GW iterations, with a hand-written
    reverse sweep through every outer and Sinkhorn iteration."""

    @staticmethod
    def forward(ctx, c1: torch.Tensor, c2: torch.Tensor, epsilon: float, outer: int,
                inner: int) -> torch.Tensor:
        n, m = c1.shape[0], c2.shape[0]
        const2 = 2 * _const(c1, c2)
        c2t = c2.t()
        # everything the backward sweep needs: plan entering each outer iteration, its kernel,
        # and the Sinkhorn scalings u_0..u_S (u_0 = 1/n) and v_0..v_{S-1} of each
        plans = c1.new_empty(outer, n, m)
        kernels = c1.new_empty(outer, n, m)
        us = c1.new_empty(outer, inner + 1, n)
        vs = c1.new_empty(outer, inner, m)
        plan = c1.new_full((n, m), 1.0 / (n * m))
        for k in range(outer):
            plans[k] = plan
            cost = torch.addmm(const2, c1 @ plan, c2t, alpha=-4.0)  # POT's gwggrad
            kernel = torch.sub(cost.min(), cost, out=kernels[k]).div_(epsilon).exp_()
            # u = a / (K v) = 1 / ((K / a) v), v = b / (K^T u) = 1 / ((K / b)^T u): one matvec
            # and one reciprocal per half-step, as POT's `Kp`
            k_a, k_b_t = kernel * n, (kernel * m).t()
            u_rows, v_rows = us[k].unbind(0), vs[k].unbind(0)  # views, written in place
            u = u_rows[0].fill_(1.0 / n)
            for s in range(inner):
                v = torch.mv(k_b_t, u, out=v_rows[s]).reciprocal_()
                u = torch.mv(k_a, v, out=u_rows[s + 1]).reciprocal_()
            plan = u.unsqueeze(1) * kernel * v.unsqueeze(0)
        ctx.save_for_backward(c1, c2, plans, kernels, us, vs)
        ctx.epsilon = epsilon
        return plan

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_plan: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        c1, c2, plans, kernels, us, vs = ctx.saved_tensors
        outer, inner, n = us.shape[0], vs.shape[1], c1.shape[0]
        m = c2.shape[0]
        g1, g2 = torch.zeros_like(c1), torch.zeros_like(c2)
        g_const = torch.zeros_like(plans[0])
        g_plan = grad_plan
        gs, gt = c1.new_empty(inner, n), c1.new_empty(inner, m)
        gs_rows, gt_rows = gs.unbind(0), gt.unbind(0)
        negligible, first = torch.finfo(c1.dtype).eps ** 2, 0.0
        for k in reversed(range(outer)):
            kernel = kernels[k]
            k_a_t, k_b = (kernel * n).t(), kernel * m
            u_s, v_s = us[k, 1:], vs[k]  # u_{s+1} = 1 / (K_a v_s), v_s = 1 / (K_b^T u_s)
            # plan = u_S K v_{S-1}
            w = g_plan * kernel
            g_u = w @ v_s[-1]
            g_v = w.t() @ u_s[-1]
            g_kernel = g_plan * u_s[-1].unsqueeze(1) * v_s[-1].unsqueeze(0)
            # d(1/x) = -1/x^2 dx: the reciprocals' local derivatives, all steps at once
            du = u_s.square().neg_().unbind(0)
            dv = v_s.square().neg_().unbind(0)
            for s in reversed(range(inner)):
                torch.mul(g_u, du[s], out=gs_rows[s])  # grad of K_a v_s
                if s == inner - 1:
                    g_v.addmv_(k_a_t, gs_rows[s])
                else:
                    torch.mv(k_a_t, gs_rows[s], out=g_v)
                torch.mul(g_v, dv[s], out=gt_rows[s])  # grad of K_b^T u_s
                torch.mv(k_b, gt_rows[s], out=g_u)
            # the matvecs' kernel terms, summed over steps: outer(gs_s, v_s) and outer(u_s, gt_s)
            g_kernel += n * (gs.t() @ v_s) + m * (us[k, :-1].t() @ gt)
            # kernel = exp((min G - G) / epsilon); the shift leaves the plan unchanged
            g_cost = g_kernel.mul_(kernel).mul_(-1.0 / ctx.epsilon)
            # G = 2 constC - 4 C1 T C2^T
            g_const += 2 * g_cost
            plan = plans[k]
            g1 -= 4 * (g_cost @ c2) @ plan.t()
            g2 -= 4 * g_cost.t() @ (c1 @ plan)
            # Each outer iteration back shrinks the gradient geometrically (~100x a step at
            # epsilon 0.2): once a step's terms are below eps^2 of the last step's, the rest
            # lie far below float rounding of the sum, and going on only produces subnormal
            # floats, which slow the CPU's matrix products tenfold (POT's autograd pays that)
            size = float(g_cost.abs().max())
            if k == outer - 1:
                first = size
            elif size <= negligible * first:
                break
            if k > 0:  # T_0 = p q^T is a constant
                g_plan = -4 * (c1.t() @ g_cost @ c2)
        # constC_ij = sum_k C1_ik^2 / n + sum_l C2_jl^2 / m
        g1 += (2.0 / n) * c1 * g_const.sum(dim=1, keepdim=True)
        g2 += (2.0 / m) * c2 * g_const.sum(dim=0).unsqueeze(1)
        return g1, g2, None, None, None


def entropic_gw_plan(c1: torch.Tensor, c2: torch.Tensor, epsilon: float = EPSILON,
                     outer_iterations: int = OUTER_ITERATIONS,
                     sinkhorn_iterations: int = SINKHORN_ITERATIONS) -> torch.Tensor:
    """The coupling T (n, m) of the entropic GW iterations between symmetric distance matrices
    `c1` (n, n) and `c2` (m, m) (rows sum to 1/n exactly, columns to about 1/m; T sums to 1);
    differentiable with respect to both."""
    _check(c1, c2, sinkhorn_iterations)
    if outer_iterations < 1:
        return c1.new_full((c1.shape[0], c2.shape[0]), 1.0 / (c1.shape[0] * c2.shape[0]))
    return _EntropicPlan.apply(c1, c2, float(epsilon), int(outer_iterations),
                               int(sinkhorn_iterations))


@torch.no_grad()
def log_domain_gw_plan(c1: torch.Tensor, c2: torch.Tensor, epsilon: float,
                       outer_iterations: int = OUTER_ITERATIONS,
                       sinkhorn_iterations: int = SINKHORN_ITERATIONS) -> torch.Tensor:
    """The entropic GW plan T (n, m) of the same outer iterations as `entropic_gw_plan`, each
    Sinkhorn solved in the log domain (potentials f, g, warm-started from the previous outer
    iteration), so that any epsilon is finite in float32: the scaled kernel exp(-G / epsilon)
    underflows to 0 / 0 once the cost G spans more than ~87 epsilon (0.44 at epsilon 0.005).
    Rows sum to 1/n exactly, columns to about 1/m. No gradient (see `entropic_gw`)."""
    _check(c1, c2, sinkhorn_iterations)
    n, m = c1.shape[0], c2.shape[0]
    const2 = 2 * _const(c1, c2)
    log_p, log_q = c1.new_full((n,), -math.log(n)), c1.new_full((m,), -math.log(m))
    f, g = c1.new_zeros(n), c1.new_zeros(m)
    plan = c1.new_full((n, m), 1.0 / (n * m))
    for _ in range(outer_iterations):
        cost = torch.addmm(const2, c1 @ plan, c2.t(), alpha=-4.0) / epsilon  # G / epsilon
        for _ in range(sinkhorn_iterations):
            g = log_q - torch.logsumexp(f.unsqueeze(1) - cost, dim=0)
            f = log_p - torch.logsumexp(g.unsqueeze(0) - cost, dim=1)
        plan = (f.unsqueeze(1) + g.unsqueeze(0) - cost).exp()
    return plan


def entropic_gw(c1: torch.Tensor, c2: torch.Tensor, epsilon: float = EPSILON,
                outer_iterations: int = OUTER_ITERATIONS,
                sinkhorn_iterations: int = SINKHORN_ITERATIONS, solver: str = "scaled"
                ) -> torch.Tensor:
    """Entropic GW value (scalar) between symmetric distance matrices `c1` (n, n) and `c2`
    (m, m) under uniform weights and the square loss: sum_ijkl (C1_ik - C2_jl)^2 T_ij T_kl at
    the final plan T.

    `solver` "scaled": POT's iterations (`entropic_gw_plan`), the value POT's
    `entropic_gromov_wasserstein2` returns, gradients through the unrolled plan as well.
    "log": the log-domain plan (`log_domain_gw_plan`), held constant in the gradient (the
    envelope gradient, as POT's `gromov_wasserstein2` sets it): dGW/dC1 = 2 (C1 * p p^T -
    T C2 T^T) (elementwise *, uniform p = 1/n); finite at any epsilon."""
    if solver == "log":
        plan = log_domain_gw_plan(c1.detach(), c2.detach(), epsilon, outer_iterations,
                                  sinkhorn_iterations)
    elif solver == "scaled":
        plan = entropic_gw_plan(c1, c2, epsilon, outer_iterations, sinkhorn_iterations)
    else:
        raise ValueError(f"solver {solver!r}: 'scaled' or 'log'")
    return (plan * torch.addmm(_const(c1, c2), c1 @ plan, c2.t(), alpha=-2.0)).sum()


def gromov_wasserstein_loss(x: torch.Tensor, y: torch.Tensor, epsilon: float = EPSILON,
                            outer_iterations: int = OUTER_ITERATIONS,
                            sinkhorn_iterations: int = SINKHORN_ITERATIONS,
                            normalise: str = "max", solver: str = "scaled") -> torch.Tensor:
    """Entropic GW (scalar) between point clouds `x` (n, d1) (music embeddings) and `y` (m, d2)
    (dance embeddings) through their normalised L1 distance matrices (`distance_matrix`,
    dimensionless), differentiable with respect to both (first derivatives only). With the
    defaults ("max", "scaled", epsilon 0.2) the plan is blind to which point matches which;
    "range", "log" and epsilon 0.005 find an isometric match (module docstring, "Choosing
    epsilon")."""
    return entropic_gw(distance_matrix(x, normalise), distance_matrix(y, normalise), epsilon,
                       outer_iterations, sinkhorn_iterations, solver)
