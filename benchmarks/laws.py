"""Benchmark of the conservation-law counter (issue: laws). Run by hand:

    .venv/bin/python benchmarks/laws.py [--baseline-limit 300] [--skip-large]

Cases: linear [4,4,4] (D = 32), [5,5,5] (D = 50); ReLU [3,3,3,3] (D = 27), [4,5,3] with bias (D = 40);
large: linear [20,20,20] (D = 800), ReLU [10,50,10] (D = 1000), ReLU [20,100,20] (D = 4000) and, with
``--huge``, ReLU [50,100,50] and one softmax attention block (3 tokens, d = d_k = d_v = d_out = 50),
both D = 10⁴ (minutes each; above 3000 parameters two points and the streamed QR decide).

* ours: ``noetherlab.training.count_laws`` (random nested-JVP brackets, several points, certified by
  the singular-value gap), each case in a fresh subprocess so that compile time and peak memory are
  its own; the count is repeated once after compilation.
* baseline, in this process: the SageMath algorithm of Marcotte–Gribonval–Peyré re-done with sympy —
  the factorisation φ(θ) (entries of W2 W1 / ReLU path products), symbolic gradients and brackets
  [X, Y] = J_Y X - J_X Y, evaluation at one random point, a float rank; brackets are added level by
  level while they raise the rank. Time-boxed by ``--baseline-limit`` seconds per case.
* the published SageMath times (10.5 s, 44 s, 188 s, 242 s on a 2-core machine) are printed for reference.

A third table (``--blocks``, or only it with ``--only-blocks``) counts the blocks of issue 30 —
LayerNorm, RMSNorm and BatchNorm MLPs, residual ReLU blocks, multi-head attention, and a PyTorch
``TransformerEncoderLayer`` (time-boxed by ``--block-limit`` seconds) — against their closed forms
(:mod:`noetherlab.training.blocks`), each in a fresh subprocess; the baseline run in the same
process is a plain ReLU MLP of about the same D.

A second table (skip with ``--skip-flows``) counts the laws of momentum and metric flows (Marcotte,
Gribonval & Peyré, ICML 2024) on the peer's cases, with the peer's counts as the reference column;
the baseline run in the same process is the gradient-flow count of the same architecture.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import sympy
from rich.console import Console
from rich.table import Table

CASES = {
    "linear[4,4,4]": ("linear", [4, 4, 4], False, 10.5),
    "linear[5,5,5]": ("linear", [5, 5, 5], False, 44.0),
    "relu[3,3,3,3]": ("relu", [3, 3, 3, 3], False, 188.0),
    "relu[4,5,3]+bias": ("relu", [4, 5, 3], True, 242.0),
    "linear[20,20,20]": ("linear", [20, 20, 20], False, None),
    "relu[10,50,10]": ("relu", [10, 50, 10], False, None),
    "relu[20,100,20]": ("relu", [20, 100, 20], False, None),
    "relu[50,100,50]": ("relu", [50, 100, 50], False, None),
    "attention(L=3,d=50)": ("attention", [3, 50, 50, 50, 50], False, None),
}
HUGE = {"relu[50,100,50]", "attention(L=3,d=50)"}


#: name -> (kind, sizes, bias, flow, the peer's count)
FLOW_CASES = {
    "linear[2,2,1] momentum": ("linear", [2, 2, 1], False, "momentum", 1),
    "linear[2,3,1] momentum": ("linear", [2, 3, 1], False, "momentum", 3),
    "linear[1,3,1] momentum": ("linear", [1, 3, 1], False, "momentum", 6),
    "linear[2,1,2] momentum": ("linear", [2, 1, 2], False, "momentum", 0),
    "linear[1,4,1] momentum": ("linear", [1, 4, 1], False, "momentum", 10),
    "linear[2,2,1] nesterov": ("linear", [2, 2, 1], False, "nesterov", 1),
    "relu[2,3,2] momentum": ("relu", [2, 3, 2], False, "momentum", 0),
    "linear[2,3,2] nmf": ("linear", [2, 3, 2], False, "nmf", 3),
    "linear[2,2,2] nmf": ("linear", [2, 2, 2], False, "nmf", 2),
    "relu[2,3,2] mirror (ICNN)": ("relu", [2, 3, 2], False, "mirror", 3),
    "relu[2,3,2]+bias mirror (ICNN)": ("relu", [2, 3, 2], True, "mirror", 3),
    "linear[2,3,2] nmf+momentum": ("linear", [2, 3, 2], False, "nmf+momentum", 0),
    "relu[2,3,2] mirror+momentum": ("relu", [2, 3, 2], False, "mirror+momentum", 0),
}


#: name -> (builder expression, closed-form count or None where none is derived)
BLOCK_CASES = {
    "layernorm[8,16,16,4]": ("tr.normalised_net([8, 16, 16, 4], 'layer')", 26),
    "rmsnorm[8,16,4]": ("tr.normalised_net([8, 16, 4], 'rms')", 1),
    "batchnorm[8,16,4]+bias (B=4)": ("tr.normalised_net([8, 16, 4], 'batch', bias=True)", 32),
    "layernorm[8,16,4]+affine": ("tr.normalised_net([8, 16, 4], 'layer', affine=True)", 25),
    "residual(d=16,h=32,2 blocks)": ("tr.residual_net(16, 32, blocks=2)", 64),
    "mha(L=4,d=16,4 heads of 4)": ("tr.multihead_attention(4, 16, heads=4, d_k=4, d_v=4)", 80),
    "transformer(L=3,d=3,1 head of 1,ff 2) post-norm": (
        "tr.transformer_encoder(3, 3, 1, 1, 1, 2)",
        11,
    ),
    "transformer(L=3,d=3,1 head of 1,ff 2) pre-norm": (
        "tr.transformer_encoder(3, 3, 1, 1, 1, 2, norm='pre')",
        14,
    ),
    "transformer(L=3,d=3,1 head,ff 2) 2 layers post": (
        "tr.transformer_encoder(3, 3, 1, 1, 1, 2, layers=2)",
        24,
    ),
    "transformer(L=3,d=3,1 head,ff 2) 2 layers pre, gelu": (
        "tr.transformer_encoder(3, 3, 1, 1, 1, 2, layers=2, norm='pre', activation='gelu')",
        23,
    ),
    "resnet(3x3, c=2, 1 block, B=3)": ("tr.resnet(3, 1, 2, 1, 2, batch=3)", 6),
    "resnet(3x3, c=2, 1 block, B=3)+bias": ("tr.resnet(3, 1, 2, 1, 2, batch=3, bias=True)", 12),
    "resnet(3x3, c=2, 1 block, B=3)+affine": ("tr.resnet(3, 1, 2, 1, 2, batch=3, affine=True)", 10),
    "torch encoder layer (E=2, 2 heads, ff 3)": ("_encoder()", None),
    "baseline: relu[16,40,16]": ("tr.relu_net([16, 40, 16])", 40),
}


def _encoder():
    import torch

    from noetherlab import training as tr

    torch.manual_seed(0)
    enc = torch.nn.TransformerEncoderLayer(
        2, 2, dim_feedforward=3, dropout=0.0, batch_first=True, norm_first=True
    ).eval()
    return tr.from_module(enc, (3, 2), exact_normalisation=True)


def run_block_case(name: str) -> dict:
    from noetherlab import training as tr

    arch = eval(BLOCK_CASES[name][0], {"tr": tr, "_encoder": _encoder})
    t0 = time.perf_counter()
    res = tr.count_laws(arch, known=False)
    return {
        "D": arch.dimension,
        "laws": res.laws,
        "certified": res.certified,
        "gap": res.gap,
        "levels": len(res.levels),
        "seconds": time.perf_counter() - t0,
        "peak_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def block_table(console: Console, limit: float) -> None:
    table = Table(title="Laws of normalisation, residual and attention blocks (issue 30)")
    for col in (
        "case",
        "D",
        "laws (ours, counted blind)",
        "closed form",
        "agree",
        "certified / gap",
        "bracket levels",
        "seconds",
        "ratio to baseline",
        "peak MB",
    ):
        table.add_column(col)
    rows = {}
    for name in BLOCK_CASES:
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--block-case", name],
                capture_output=True,
                text=True,
                check=True,
                timeout=limit,
            )
            rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            rows[name] = None
        console.print(f"done {name}", style="dim")
    base = rows["baseline: relu[16,40,16]"]
    for name, r in rows.items():
        closed = BLOCK_CASES[name][1]
        if r is None:
            table.add_row(name, "-", f"not finished in {limit:.0f} s", str(closed), "-", "-", "-",
                          f"> {limit:.0f}", "-", "-")  # fmt: skip
            continue
        table.add_row(
            name,
            str(r["D"]),
            str(r["laws"]),
            "not derived" if closed is None else str(closed),
            "-" if closed is None else ("yes" if r["laws"] == closed else "NO"),
            f"{r['certified']} / {r['gap']:.1e}",
            str(r["levels"]),
            f"{r['seconds']:.2f}",
            "-" if base is None else f"{r['seconds'] / base['seconds']:.1f}",
            f"{r['peak_MB']:.0f}",
        )
    console.print(table)


#: transformer encoders of growing size, counted with the known-laws bound (name -> builder
#: arguments: tokens, d, heads, d_k, d_v, ff, layers)
SCALING_CASES = {
    "transformer d=16, 2 heads of 8, ff 32": (4, 16, 2, 8, 8, 32, 1),
    "transformer d=32, 4 heads of 8, ff 64": (4, 32, 4, 8, 8, 64, 1),
    "transformer d=32, 4 heads of 8, ff 64, 2 layers": (4, 32, 4, 8, 8, 64, 2),
    "transformer d=64, 8 heads of 16, ff 512": (4, 64, 8, 16, 16, 512, 1),
}


#: blocks of a 12-layer encoder (tokens 4, d 32, 4 heads of 8, ff 64; D ≈ 10⁵) counted alone
#: (count_subset_laws: rank decisions in |S| dimensions): name -> parameter keys
SUBSET_CASES = {
    "12-layer encoder (D≈1e5): attention of layer 6": ["Q6", "K6", "V6", "O6"],
    "12-layer encoder (D≈1e5): feed-forward of layer 6": ["U6", "u6", "W6", "w6"],
}


def run_subset_case(name: str) -> dict:
    from noetherlab import training as tr

    arch = tr.transformer_encoder(4, 32, 4, 8, 8, 64, layers=12)
    keys = SUBSET_CASES[name]
    t0 = time.perf_counter()
    res = tr.count_subset_laws(arch, keys)
    return {
        "D": arch.dimension,
        "S": res.dimension,
        "laws": res.laws,
        "closed": res.explained,
        "certified": res.certified,
        "gap": res.gap,
        "seconds": time.perf_counter() - t0,
        "peak_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def subset_table(console: Console, limit: float) -> None:
    """Blocks of a D ≈ 10⁵ encoder, each counted alone, in a fresh subprocess."""
    table = Table(title="Laws of one block of a D ≈ 10⁵ transformer encoder (count_subset_laws)")
    for col in ("case", "D", "|S|", "laws", "known laws of S", "certified / gap", "seconds",
                "peak MB"):  # fmt: skip
        table.add_column(col)
    for name in SUBSET_CASES:
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--subset-case", name],
                capture_output=True, text=True, check=True, timeout=limit,
            )  # fmt: skip
            r = json.loads(out.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            table.add_row(name, "-", "-", f"not finished in {limit:.0f} s", *["-"] * 4)
            continue
        console.print(f"done {name}", style="dim")
        table.add_row(
            name,
            str(r["D"]),
            str(r["S"]),
            str(r["laws"]),
            str(r["closed"]),
            f"{r['certified']} / {r['gap']:.1e}",
            f"{r['seconds']:.1f}",
            f"{r['peak_MB']:.0f}",
        )
    console.print(table)


def run_scaling_case(name: str) -> dict:
    from noetherlab import training as tr
    from noetherlab._core.errors import ResourceLimitError
    from noetherlab.training.transformer import transformer_law_count

    *sizes, layers = SCALING_CASES[name]
    arch = tr.transformer_encoder(*sizes, layers=layers)
    closed = transformer_law_count(*sizes[2:], layers=layers)
    t0 = time.perf_counter()
    try:
        res = tr.count_laws(arch)
    except ResourceLimitError as err:
        return {"D": arch.dimension, "closed": closed, "refused": str(err)}
    return {
        "D": arch.dimension,
        "closed": closed,
        "laws": res.laws,
        "certified": res.certified,
        "gap": res.gap,
        "seconds": time.perf_counter() - t0,
        "peak_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def scaling_table(console: Console, limit: float) -> None:
    """Transformer encoders of growing D, counted with the known-laws bound, each in a fresh
    subprocess; the ratio is to the smallest case, run first in the same benchmark."""
    table = Table(title="Certified counts of transformer encoders by size (known-laws bound)")
    for col in ("case", "D", "laws", "closed form", "certified / gap", "seconds", "ratio to first",
                "peak MB"):  # fmt: skip
        table.add_column(col)
    first = None
    for name in SCALING_CASES:
        try:
            out = subprocess.run(
                [sys.executable, __file__, "--scaling-case", name],
                capture_output=True, text=True, check=True, timeout=limit,
            )  # fmt: skip
            r = json.loads(out.stdout.strip().splitlines()[-1])
        except subprocess.TimeoutExpired:
            table.add_row(name, "-", f"not finished in {limit:.0f} s", *["-"] * 5)
            continue
        console.print(f"done {name}", style="dim")
        if "refused" in r:
            table.add_row(name, str(r["D"]), "refused", str(r["closed"]), r["refused"][:240],
                          "-", "-", "-")  # fmt: skip
            continue
        first = first or r
        table.add_row(
            name,
            str(r["D"]),
            str(r["laws"]),
            str(r["closed"]),
            f"{r['certified']} / {r['gap']:.1e}",
            f"{r['seconds']:.1f}",
            f"{r['seconds'] / first['seconds']:.1f}",
            f"{r['peak_MB']:.0f}",
        )
    console.print(table)


def _build(kind: str, sizes: list[int], bias: bool):
    from noetherlab import training as tr

    if kind == "attention":
        return tr.attention(*sizes)
    return tr.linear_net(sizes) if kind == "linear" else tr.relu_net(sizes, bias=bias)


def run_flow_case(name: str) -> dict:
    from noetherlab import training as tr

    kind, sizes, bias, flow, _ = FLOW_CASES[name]
    arch = _build(kind, sizes, bias)
    t0 = time.perf_counter()
    grad = tr.count_laws(arch, known=False)
    t_grad = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = tr.count_laws(arch, flow=flow, known=False)
    t_flow = time.perf_counter() - t0
    return {
        "state": res.dimension,
        "laws": res.laws,
        "gradient_laws": grad.laws,
        "certified": res.certified,
        "gap": res.gap,
        "gradient_s": t_grad,
        "flow_s": t_flow,
    }


def flow_table(console: Console) -> None:
    table = Table(title="Laws of momentum and metric flows (ours vs the peer's counts)")
    for col in (
        "case",
        "state dim",
        "laws (ours)",
        "peer's count",
        "agree",
        "certified / gap",
        "gradient-flow laws",
        "gradient count s (baseline)",
        "flow count s",
        "ratio flow/gradient",
    ):
        table.add_column(col)
    for name, case in FLOW_CASES.items():
        out = subprocess.run(
            [sys.executable, __file__, "--flow-case", name],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        table.add_row(
            name,
            str(r["state"]),
            str(r["laws"]),
            str(case[4]),
            "yes" if r["laws"] == case[4] else "NO",
            f"{r['certified']} / {r['gap']:.1e}",
            str(r["gradient_laws"]),
            f"{r['gradient_s']:.2f}",
            f"{r['flow_s']:.2f}",
            f"{r['flow_s'] / r['gradient_s']:.1f}",
        )
        console.print(f"done {name}", style="dim")
    console.print(table)


def run_case(name: str) -> dict:
    from noetherlab import training as tr

    arch = _build(*CASES[name][:3])
    t0 = time.perf_counter()
    first = tr.count_laws(arch, known=False)
    t_first = time.perf_counter() - t0
    if name in HUGE:  # one call: minutes, and the compilation is a small part of it
        res, t_second = first, t_first
    else:
        t0 = time.perf_counter()
        res = tr.count_laws(arch, seed=1, known=False)
        t_second = time.perf_counter() - t0
    return {
        "D": arch.dimension,
        "laws": res.laws,
        "laws_first": first.laws,
        "certified": res.certified,
        "gap": res.gap,
        "first_s": t_first,
        "after_compile_s": t_second,
        "peak_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _phi(kind: str, sizes: list[int], bias: bool) -> tuple[list, list]:
    """The MGP factorisation of the network: φ(θ) such that g(θ, x) = f(φ(θ), x) locally."""
    mats, syms = [], []
    for i in range(len(sizes) - 1):
        M = sympy.Matrix(
            sizes[i + 1], sizes[i], lambda r, c, i=i: sympy.Symbol(f"W{i + 1}_{r}_{c}")
        )
        mats.append(M)
        syms.extend(M)
    biases = []
    if bias:
        for i in range(len(sizes) - 2):
            b = [sympy.Symbol(f"b{i + 1}_{j}") for j in range(sizes[i + 1])]
            biases.append(b)
            syms.extend(b)
    if kind == "linear":
        P = mats[0]
        for M in mats[1:]:
            P = M * P
        return list(P), syms
    phi = []  # ReLU: products of weights along every input-to-output path (and bias paths)
    L = len(mats)
    for path in itertools.product(*[range(s) for s in sizes]):
        phi.append(sympy.Mul(*[mats[i][path[i + 1], path[i]] for i in range(L)]))
    for start, b in enumerate(biases):
        for path in itertools.product(*[range(s) for s in sizes[start + 1 :]]):
            term = b[path[0]]
            for i in range(start + 1, L):
                term *= mats[i][path[i - start], path[i - start - 1]]
            phi.append(term)
    return phi, syms


class _Timeout(Exception):
    pass


def baseline(name: str, limit: float) -> dict:
    kind, sizes, bias = CASES[name][:3]
    t0 = time.perf_counter()

    def alarm(*_):
        raise _Timeout

    signal.signal(signal.SIGALRM, alarm)
    signal.alarm(int(limit))
    try:
        phi, syms = _phi(kind, sizes, bias)
        rng = np.random.default_rng(0)
        point = dict(zip(syms, rng.standard_normal(len(syms)), strict=True))
        gens = [sympy.Matrix([sympy.diff(f, s) for s in syms]) for f in phi]
        jac = {}

        def J(i, X):
            if i not in jac:
                jac[i] = X.jacobian(syms)
            return jac[i]

        def value(X):
            return np.array([float(e.subs(point)) for e in X])

        basis = np.zeros((0, len(syms)))
        kept, layer = [], []
        for X in gens:
            v = value(X)
            if np.linalg.matrix_rank(np.vstack([basis, v]), tol=1e-9) > basis.shape[0]:
                basis = np.vstack([basis, v])
                kept.append(X)
                layer.append(X)
        while layer:
            new_layer = []
            for a, X in enumerate(gens):
                for b, Y in enumerate(layer):
                    Z = (Y.jacobian(syms) * X - J(("g", a), X) * Y).applyfunc(sympy.expand)
                    v = value(Z)
                    if np.linalg.matrix_rank(np.vstack([basis, v]), tol=1e-9) > basis.shape[0]:
                        basis = np.vstack([basis, v])
                        new_layer.append(Z)
                    _ = b
            layer = new_layer
        signal.alarm(0)
        return {"laws": len(syms) - basis.shape[0], "seconds": time.perf_counter() - t0}
    except _Timeout:
        return {"laws": None, "seconds": float("inf")}
    finally:
        signal.alarm(0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--case")
    ap.add_argument("--baseline-limit", type=float, default=300.0)
    ap.add_argument("--skip-large", action="store_true")
    ap.add_argument("--huge", action="store_true", help="also the D = 10^4 cases (minutes each)")
    ap.add_argument("--flow-case")
    ap.add_argument("--skip-flows", action="store_true")
    ap.add_argument("--only-flows", action="store_true")
    ap.add_argument("--block-case")
    ap.add_argument("--blocks", action="store_true", help="also the issue-30 blocks table")
    ap.add_argument("--only-blocks", action="store_true")
    ap.add_argument("--block-limit", type=float, default=300.0)
    ap.add_argument("--scaling-case")
    ap.add_argument("--subset-case")
    ap.add_argument("--only-subsets", action="store_true", help="only the D ≈ 1e5 block table")
    ap.add_argument(
        "--only-scaling", action="store_true", help="only the transformer scaling table"
    )
    args = ap.parse_args()
    if args.scaling_case:
        print(json.dumps(run_scaling_case(args.scaling_case)))
        return
    if args.subset_case:
        print(json.dumps(run_subset_case(args.subset_case)))
        return
    if args.block_case:
        print(json.dumps(run_block_case(args.block_case)))
        return
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    if args.flow_case:
        print(json.dumps(run_flow_case(args.flow_case)))
        return
    console = Console(width=200)
    if args.only_scaling:
        scaling_table(console, 3600.0)
        subset_table(console, 1800.0)
        return
    if args.only_subsets:
        subset_table(console, 1800.0)
        return
    if args.blocks or args.only_blocks:
        block_table(console, args.block_limit)
    if args.only_blocks:
        return
    if not args.skip_flows:
        flow_table(console)
    if args.only_flows:
        return
    table = Table(title="Counting conservation laws (architecture level, every loss and data set)")
    for col in (
        "case",
        "D",
        "laws (ours)",
        "certified / gap",
        "ours: first call s",
        "ours: after compile s",
        "peak MB",
        "sympy baseline laws",
        "baseline s",
        "speed-up vs baseline",
        "published SageMath s",
        "speed-up vs SageMath",
    ):
        table.add_column(col)
    for name, (_, _, _, sage) in CASES.items():
        large = sage is None
        if (large and args.skip_large) or (name in HUGE and not args.huge):
            continue
        out = subprocess.run(
            [sys.executable, __file__, "--case", name], capture_output=True, text=True, check=True
        )
        ours = json.loads(out.stdout.strip().splitlines()[-1])
        base = (
            {"laws": None, "seconds": float("nan")}
            if large
            else baseline(name, args.baseline_limit)
        )
        speed = (
            base["seconds"] / ours["after_compile_s"]
            if np.isfinite(base["seconds"])
            else float("inf")
        )
        table.add_row(
            name,
            str(ours["D"]),
            str(ours["laws"]),
            f"{ours['certified']} / {ours['gap']:.1e}",
            f"{ours['first_s']:.2f}",
            f"{ours['after_compile_s']:.2f}",
            f"{ours['peak_MB']:.0f}",
            "-"
            if large
            else (
                str(base["laws"]) if base["laws"] is not None else f"> {args.baseline_limit:.0f} s"
            ),
            "-"
            if large
            else (
                f"{base['seconds']:.1f}"
                if np.isfinite(base["seconds"])
                else f"> {args.baseline_limit:.0f}"
            ),
            "-"
            if large
            else (
                f"{speed:.0f}x"
                if np.isfinite(speed)
                else f"> {args.baseline_limit / ours['after_compile_s']:.0f}x"
            ),
            "-" if sage is None else f"{sage:.1f}",
            "-" if sage is None else f"{sage / ours['after_compile_s']:.0f}x",
        )
        console.print(f"done {name}", style="dim")
    console.print(table)


if __name__ == "__main__":
    main()
