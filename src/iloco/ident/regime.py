"""ID2 regime map: where the Hessian-span identification of two-hidden-layer networks works.

Networks f(x) = 1ᵀh(Bᵀg(Aᵀx + θ) + τ) (``two_layer.TwoLayerNets``, tanh, A and B with orthonormal
columns, shifts θ, τ ~ s·N(0, 1)). With y = Aᵀx, G_x = diag(g'(θ + y)), u_ℓ(x) = G_x b_ℓ,
z_ℓ = b_ℓᵀg(θ + y) + τ_ℓ and c_i(x) = g''(θ_i + y_i) Σ_ℓ h'(z_ℓ) B_iℓ, the Hessian is

    ∇²f(x) = A [ Σ_ℓ h''(z_ℓ) u_ℓ(x) u_ℓ(x)ᵀ + diag(c(x)) ] Aᵀ,

which lies in W₀ = span{a_i a_iᵀ, v_ℓ v_ℓᵀ} (v_ℓ = A G₀ b_ℓ / ‖·‖, Fornasier, Klock,
Rauchensteiner) only up to the drift G_x − G₀. Its coefficients (h''(z_ℓ), c_i) ∈ R^{m0+m1}
depend on x through y ∈ R^{m0} only, so near 0 they move, to first order, on an m0-dimensional
affine plane: the Hessians span, to first order in ε = ‖Aᵀx‖, the (m0 + 1)-dimensional space
{∇²f(0)} + {D∇²f(0)[x]}, whose distance to W₀ is O(|h''(τ) g''(θ)|) ≈ 4|τθ| (the first-order
drift), independent of ε. The other m1 − 1 directions of W₀ enter only at O(ε²), where the
drift of G_x contributes terms off W₀ of the same order (for tanh both are ∝ (|θ| + |τ|)ε²; for
θ = τ = 0 the map is odd and both enter at ε³; at ε ≳ 1 the drift is O(1)). So:

* m1 = 1: the first-order span *is* (m0 + m1)-dimensional; it converges to W₀ as the shifts and
  the radius shrink (principal angle ~ s² at radius ≲ 0.1), and the method recovers every a_i and
  v₁. This is the regime where ID2 is reproduced.
* m1 ≥ 2: no radius makes the span complete while the drift is negligible: the largest principal
  angle between the estimated (m0 + m1)-dimensional span and W₀ stays O(1) as r → 0, for every
  shift scale, and grows as r grows (the drift becomes O(1)). Sampling where the published
  analysis samples (x on a sphere of radius ~1 … √d) is the large-drift end of this trade-off.

``regime_sweep`` measures this on the identification's own finite-difference Hessians (through an
``Oracle``) and returns one row per network × setting; ``state_regime`` reads the regime off that
table; ``figures.id2_regime`` draws the completeness-vs-drift panel. The two-layer functions of
``two_layer`` are used as they are.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import pandas as pd
import torch

from iloco.core.errors import IlocoError
from iloco.ident import networks as ident_networks
from iloco.ident import two_layer

CPU = ident_networks.CPU

#: The settings a regime sweep needs (config ``id2.regime`` with id2's shared keys).
KEYS = ("activation", "trials", "d", "widths", "theta_scale", "radius", "hessians_per_width", "h", "scheme")
KEYS += ("restarts_per_width", "delta")


def _radius(r, d: int) -> float:
    """A radius of the grid: a number, or ``"sqrt_d"`` for √d (the radius of a standard Gaussian)."""
    if r == "sqrt_d":
        return math.sqrt(d)
    r = float(r)
    if not (r > 0 and math.isfinite(r)):
        raise IlocoError(f"id2 regime: radius must be finite and > 0 or 'sqrt_d', got {r!r}")
    return r


def principal_angles(nets: two_layer.TwoLayerNets, basis: torch.Tensor) -> np.ndarray:
    """Principal angles (B, k) in radians, ascending, between an estimated span (Frobenius-
    orthonormal symmetric basis (B, k, d, d), e.g. ``TwoLayerResult.span_basis``) and
    W₀ = span{a_i a_iᵀ, v_ℓ v_ℓᵀ} of the true networks (v_ℓ at x = 0)."""
    T = torch.cat([nets.A, nets.entangled()], 2)
    Q, _ = torch.linalg.qr(ident_networks.sym_vec(torch.einsum("bdk,bek->bkde", T, T)).mT)
    U = ident_networks.sym_vec(basis.to(Q)).mT
    P = Q.mT @ U
    cos = torch.linalg.svdvals(P)  # descending cosines
    sin = torch.linalg.svdvals(U - Q @ P).flip(-1)  # ascending sines (k ≤ m0 + m1), same angles
    return torch.atan2(sin, cos).cpu().numpy()  # accurate at small and large angles alike


def drift(nets: two_layer.TwoLayerNets, points: torch.Tensor) -> dict[str, np.ndarray]:
    """The drift of G_x from G₀ over the Hessian points (B, N, d), per instance:
    ``drift_G`` = max_{x,i} |g'(θ_i + a_iᵀx) / g'(θ_i) − 1| (‖G₀⁻¹G_x − I‖₂, worst point), and
    ``drift_v`` = max_{x,ℓ} ∠(v_ℓ(x), v_ℓ(0)) in radians, v_ℓ(x) = A G_x b_ℓ."""
    g = ident_networks.ACTIVATIONS[nets.activation]
    gp0 = g(nets.theta)[1]  # (B, m0)
    gpx = g(torch.bmm(points.to(nets.A), nets.A) + nets.theta.unsqueeze(1))[1]  # (B, N, m0)
    dG = (gpx / gp0.unsqueeze(1) - 1).abs().amax(dim=(1, 2))
    Vx = torch.einsum("bdi,bni,bil->bnld", nets.A, gpx, nets.Bw)  # v_ℓ(x), (B, N, m1, d)
    Vx = Vx / Vx.norm(dim=3, keepdim=True)
    V0 = nets.entangled().mT  # (B, m1, d)
    cos = (Vx * V0.unsqueeze(1)).sum(3).abs().clamp(max=1.0)
    return {"drift_G": dG.cpu().numpy(), "drift_v": torch.arccos(cos).amax(dim=(1, 2)).cpu().numpy()}


def first_order_dim(m0: int, m1: int) -> int:
    """Dimension of the span of the Hessians near 0 to first order in ‖Aᵀx‖ (nonzero shifts):
    ∇²f(0) plus the image of the m0-dimensional y = Aᵀx, at most m0 + 1 and at most m0 + m1."""
    return min(m0 + 1, m0 + m1)


def regime_cell(
    d: int,
    m0: int,
    m1: int,
    theta_scale: float,
    radius: float,
    spec: dict,
    seed: int,
    device: torch.device = CPU,
) -> pd.DataFrame:
    """One cell: ``spec['trials']`` networks identified by ``two_layer.identify_two_layer`` from
    N_h = hessians_per_width·(m0 + m1) finite-difference Hessians on the sphere of ``radius``;
    the evaluator's table (``two_layer.evaluate_two_layer``, δ = spec['delta']) plus the principal
    angles of the estimated span to W₀ and the drift of G_x at the same points."""
    B = int(spec["trials"])
    nets = two_layer.two_layer_networks(B, d, m0, m1, spec["activation"], seed, theta_scale, device)
    oracle = ident_networks.Oracle(nets.forward, d, B, 0.0, seed, device)
    k = m0 + m1
    nh = int(math.ceil(spec["hessians_per_width"] * k))
    t0 = time.perf_counter()
    res = two_layer.identify_two_layer(
        oracle, m0, m1, nh, spec["h"], spec["scheme"], spec["restarts_per_width"] * k, radius=radius, seed=seed
    )
    wall = (time.perf_counter() - t0) / B
    table = two_layer.evaluate_two_layer(nets, res, spec["delta"])
    ang = principal_angles(nets, res.span_basis)
    tol = math.acos(1 - spec["delta"] ** 2 / 2)  # the evaluator's matching angle for a direction
    # the points identify_two_layer used: same stream, same seed
    pts = ident_networks.sphere_points(B, nh, d, radius, seed, ident_networks.POINTS, device, nets.A.dtype)
    dr = drift(nets, pts)
    s = res.singular_values
    f1 = first_order_dim(m0, m1)
    table["theta_scale"] = theta_scale
    table["max_angle"] = ang[:, -1]
    table["span_dirs_ok"] = (ang < tol).sum(axis=1)
    table["completeness"] = table["span_dirs_ok"] / k
    table["first_order_dim"] = f1
    # s_{m0+1} / s_{m0+2}: the gap after the first-order span (∞ if no more directions)
    table["first_order_gap"] = s[:, f1 - 1] / np.maximum(s[:, f1], 1e-300) if s.shape[1] > f1 else np.inf
    table["drift_G"] = dr["drift_G"]
    table["drift_v"] = dr["drift_v"]
    table["wall_time_s"] = wall
    return table


def regime_sweep(spec: dict, seed: int = 0, device: torch.device = CPU, progress: bool = True) -> pd.DataFrame:
    """The ID2 regime map: d × widths (m0, m1) × shift scale × radius, ``trials`` networks per
    cell (the same networks across radii: paired). One row per network × setting with columns
    d, m0, m1, theta_scale, radius, instance, first_frac, entangled_frac, complete (every a_i
    and v_ℓ matched with ‖· ∓ ·‖ ≤ δ), span_error, max_angle, span_dirs_ok, completeness,
    first_order_dim, span_gap, first_order_gap, drift_G, drift_v, queries, wall_time_s."""
    from tqdm import tqdm

    missing = [k for k in KEYS if k not in spec]
    if missing:
        raise IlocoError(f"id2 regime: settings lack {', '.join(missing)}")
    cells = [
        (d, m0, m1, s, r)
        for d in spec["d"]
        for m0, m1 in spec["widths"]
        for s in spec["theta_scale"]
        for r in spec["radius"]
        if m1 <= m0 <= d
    ]
    rows = []
    for d, m0, m1, s, r in tqdm(cells, desc="ID2 regime", file=sys.stderr, disable=not progress):
        t = regime_cell(d, m0, m1, s, _radius(r, d), spec, seed, device)
        t["radius_label"] = str(r)
        rows.append(t)
    return pd.concat(rows, ignore_index=True)


def regime_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per setting (d, m0, m1, theta_scale, radius): networks, fraction complete, mean
    first/entangled fractions, median max principal angle, median completeness, median drifts."""
    keys = ["d", "m0", "m1", "theta_scale", "radius"]
    g = table.groupby(keys, sort=True)
    return g.agg(
        networks=("instance", "size"),
        complete=("complete", "mean"),
        first_frac=("first_frac", "mean"),
        entangled_frac=("entangled_frac", "mean"),
        max_angle=("max_angle", "median"),
        completeness=("completeness", "median"),
        drift_G=("drift_G", "median"),
        drift_v=("drift_v", "median"),
        wall_time_s=("wall_time_s", "mean"),
    ).reset_index()


#: The regime of the claim: one entangled weight, small shifts, Hessians near 0.
REGIME = {"m1": 1, "theta_scale_max": 0.01, "radius_max": 0.1}


#: The share of networks that must be complete in every cell of the regime for the claim.
MIN_COMPLETE = 0.9


def state_regime(table: pd.DataFrame, regime: dict | None = None, min_complete: float = MIN_COMPLETE) -> dict:
    """The ID2 claim read off a ``regime_sweep`` table.

    In the regime R (m1 = regime['m1'], θ-scale ≤ theta_scale_max, radius ≤ radius_max):
    ``reproduced`` iff in every cell of R at least ``min_complete`` of the networks recover every
    a_i and v_ℓ. Outside it, for m1 ≥ 2: ``negative`` iff in no cell with m1 ≥ 2 any network is
    complete, and in every such cell the estimated span has fewer than m0 + m1 directions within
    the matching angle of W₀ (median completeness < 1) while at most first_order_dim are (the
    (m0 + 1)-dimensional first-order span). Returns the booleans, the numbers behind them and
    a one-line statement.
    """
    r = {**REGIME, **(regime or {})}
    t = table
    inside = (t["m1"] == r["m1"]) & (t["theta_scale"] <= r["theta_scale_max"]) & (t["radius"] <= r["radius_max"])
    keys = ["d", "m0", "m1", "theta_scale", "radius"]
    cells_in = t[inside].groupby(keys)["complete"].mean()
    multi = t[t["m1"] >= 2]
    cells_multi = multi.groupby(keys).agg(
        complete=("complete", "mean"),
        ok=("span_dirs_ok", "max"),
        k=("m0", "first"),
        m1=("m1", "first"),
    )
    reproduced = bool(len(cells_in)) and bool((cells_in >= min_complete).all())
    neg_complete = bool(len(cells_multi)) and bool((cells_multi["complete"] == 0).all())
    neg_span = bool(len(cells_multi)) and bool((cells_multi["ok"] <= cells_multi["k"] + 1).all())
    worst_in = float(cells_in.min()) if len(cells_in) else float("nan")
    best_multi = float(cells_multi["complete"].max()) if len(cells_multi) else float("nan")
    statement = (
        f"ID2 reproduced for m1 = {r['m1']}, shifts ≤ {r['theta_scale_max']:g}, radius ≤ {r['radius_max']:g}: "
        f"≥ {worst_in:.0%} of networks complete in every cell ({len(cells_in)} cells); "
        f"for m1 ≥ 2 at most m0 + 1 span directions within the matching angle of W0 "
        f"and {best_multi:.0%} complete at best (first-order span is (m0+1)-dimensional)."
    )
    return {
        "reproduced": reproduced,
        "negative_m1_ge_2": neg_complete and neg_span,
        "first_order_span_only": neg_span,
        "worst_complete_in_regime": worst_in,
        "best_complete_m1_ge_2": best_multi,
        "cells_in_regime": int(len(cells_in)),
        "cells_m1_ge_2": int(len(cells_multi)),
        "regime": r,
        "statement": statement,
    }
