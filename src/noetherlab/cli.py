"""Command-line interface (typer + rich).

    noetherlab models
    noetherlab path MODEL --x0 -2,2 --x1 2,2 --T 1 [--json] [--out path.nc]
    noetherlab symmetries MODEL [--json]
    noetherlab simulate MODEL --x0 0,0 --T 50 --dt 0.025 --n-paths 10000 --out ensemble.nc [--json]
    noetherlab laws ARCH --sizes 4,4,4 [--bias] [--loss mse] [--degree 2] [--augment cyclic] [--json]
    noetherlab train-check ARCH --sizes 3,1 --augment cyclic [--out DIR]
    noetherlab reproduce [--mode paper|converged|both] [--out results] [--quick] [--workers 2]

MODEL is a built-in name (``noetherlab models`` lists them with their parameters) with ``-p
key=value`` overrides, or ``package.module:function`` returning an SDE (modules in the current
directory are found). Options carry the names of the Python API's arguments (``--T``, ``--x0``,
``--n-paths``, ``--key``, ``--energy``, ``--method``). Errors are one line on stderr, naming the
option and the fix, with exit code 2; ``--json`` output is plain UTF-8 JSON on stdout.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from noetherlab.errors import InvalidArgumentError, NoetherlabError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Symmetries → conservation laws: most likely paths of noisy systems and laws of gradient-flow "
    "training. `noetherlab models` lists the built-in models.",
)
console = Console()
err_console = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from noetherlab import __version__

        console.print(f"noetherlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    """Symmetries → conservation laws (see `noetherlab COMMAND --help`)."""


def _floats(text: str, name: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InvalidArgumentError(
            name, f"must be comma-separated numbers, got {text!r}", f"e.g. {name} 1.0,2.0"
        ) from None


def _ints(text: str, name: str) -> list[int]:
    values = _floats(text, name)
    if not values or any(v != int(v) or v < 1 for v in values):
        raise InvalidArgumentError(
            name, f"must be comma-separated positive integers, got {text!r}", f"e.g. {name} 3,4,2"
        )
    return [int(v) for v in values]


def _params(items: list[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        if "=" not in item:
            raise InvalidArgumentError(
                "--param", f"must be key=value, got {item!r}", "e.g. --param beta=4"
            )
        key, _, value = item.partition("=")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def _run(fn: Callable[[], None], options: tuple[str, ...] = ()) -> None:
    """Run a command; a noetherlab error becomes one line on stderr and exit code 2. An error about
    an API argument that the command exposes as an option is reported under the option's name."""
    try:
        fn()
    except NoetherlabError as exc:
        text = str(exc)
        arg = getattr(exc, "argument", None)
        if arg is not None and arg in options:
            option = "--" + arg.replace("_", "-") if arg != "T" else "--T"
            text = text.replace(f"argument `{arg}`", f"argument `{option}`", 1)
            text = text.replace(f"pass {arg} ", f"pass {option} ")
        err_console.print(f"[bold red]error:[/] {text}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None


def _emit(data: dict[str, Any], as_json: bool, title: str) -> None:
    from noetherlab.io import to_jsonable

    if as_json:
        sys.stdout.write(json.dumps(to_jsonable(data), indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title=title, show_header=False)
    table.add_column(overflow="fold")
    table.add_column(overflow="fold")
    for key, value in data.items():
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            value = "\n".join(value)  # formulas: one per line, wrapped, never cut
        table.add_row(str(key), str(value))
    console.print(table)


ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", "-p", help="model parameter override key=value (repeatable)"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
SchedulerOpt = Annotated[
    str | None, typer.Option(help="run the tasks on this Dask scheduler (tcp://host:port)")
]


@app.command()
def models() -> None:
    """The built-in models, their parameters (-p key=value) and defaults."""
    from noetherlab.models import describe_models

    table = Table(title="built-in models (or pass package.module:function returning an SDE)")
    table.add_column("MODEL")
    table.add_column("parameters", overflow="fold")
    table.add_column("description", overflow="fold")
    for line in describe_models().splitlines():
        name, _, rest = line.partition(" (")
        params, _, doc = rest.partition("): ")
        table.add_row(name, params, doc)
    console.print(table)


@app.command()
def path(
    model: Annotated[
        str, typer.Argument(help="built-in model (noetherlab models) or package.module:function")
    ],
    x0: Annotated[str, typer.Option(help="start state, comma-separated")],
    x1: Annotated[str, typer.Option(help="end state, comma-separated")],
    T: Annotated[
        float | None, typer.Option("--T", help="transit time (fixed-time problem)")
    ] = None,
    energy: Annotated[float | None, typer.Option(help="energy (fixed-energy problem)")] = None,
    n: Annotated[int, typer.Option(help="number of intervals")] = 1000,
    lagrangian: Annotated[str, typer.Option(help="fw or om")] = "fw",
    method: Annotated[
        str,
        typer.Option(
            help="auto, newton, newton-krylov, lbfgs, time-via-energy (fixed T through T(E) = T), "
            "geometric (fixed --energy), shooting, hamiltonian (noise on a subspace)"
        ),
    ] = "auto",
    refine: Annotated[bool, typer.Option(help="refine the grid until rtol is met")] = False,
    rtol: Annotated[
        float, typer.Option(help="relative discretisation tolerance of the action")
    ] = 1e-4,
    param: ParamOpt = None,
    out: Annotated[Path | None, typer.Option(help="save the path (netCDF)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Most likely path between two states, with its charges and diagnostics."""

    def go() -> None:
        from noetherlab.io import check_output_file, save_dataset
        from noetherlab.models import resolve_model
        from noetherlab.paths import most_likely_path

        if T is not None and energy is not None:
            raise InvalidArgumentError(
                "--T/--energy",
                "both a transit time and an energy were given (the energy fixes the time)",
                "give --T for a fixed-time path or --energy for a fixed-energy path, not both",
            )
        if out is not None:
            check_output_file(out)
        params = _params(param)
        sde = resolve_model(model, params)
        kw: dict[str, Any] = {"T": T} if energy is None else {"energy": energy}
        title = f"most likely path of {sde.name}"
        with err_console.status(f"{title}...") as status:
            res = most_likely_path(
                sde,
                _floats(x0, "--x0"),
                _floats(x1, "--x1"),
                n=n,
                lagrangian=lagrangian,
                method=method,
                refine=refine,
                rtol=rtol,
                progress=lambda line: status.update(f"{title}: {line}"),
                **kw,
            )
        if out is not None:
            save_dataset(
                out,
                res.to_dataset(),
                {"model": model, "model_params": params, **res.summary()["parameters"]},
            )
        _emit(res.summary(), as_json, f"most likely path of {sde.name}")

    _run(go, ("x0", "x1", "T", "energy", "n", "lagrangian", "method", "rtol", "refine", "init"))


@app.command()
def symmetries(
    model: Annotated[str, typer.Argument(help="built-in model name or package.module:function")],
    param: ParamOpt = None,
    center: Annotated[
        str | None, typer.Option(help="centre of the probe region, comma-separated")
    ] = None,
    scale: Annotated[float, typer.Option(help="spread of the probe states")] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Affine symmetries of the model's path Lagrangian and their conserved charges."""

    def go() -> None:
        from noetherlab.models import resolve_model
        from noetherlab.symmetries import find_symmetries

        sde = resolve_model(model, _params(param))
        rep = find_symmetries(
            sde, center=None if center is None else _floats(center, "--center"), scale=scale
        )
        data = {
            "model": sde.name,
            "symmetries": [
                {
                    "name": s.name,
                    "kind": s.kind,
                    "A": np.round(s.generator.A, 12),
                    "b": np.round(s.generator.b, 12),
                }
                for s in rep
            ],
            "count": len(rep),
            "certified": rep.certified,
            "gap": rep.gap,
            "rejected": [{"name": n, "relative_violation": v} for n, v in rep.rejected],
        }
        if as_json:
            _emit(data, True, "")
            return
        table = Table(
            title=f"symmetries of {sde.name} (certified: {rep.certified}, gap {rep.gap:.1e})"
        )
        table.add_column("symmetry")
        table.add_column("conserved charge")
        for s in rep:
            charge = (
                "energy"
                if s.kind == "time"
                else (
                    "momentum p·v"
                    if s.kind == "translation"
                    else ("angular momentum" if s.kind == "rotation" else "p·(A x + b)")
                )
            )
            table.add_row(s.name, charge)
        console.print(table)
        for name, violation in rep.rejected:
            console.print(
                f"rejected by the independent check: {name} (relative violation {violation:.2g}); "
                "the probe region did not determine the symmetries"
            )

    _run(go, ("center", "scale"))


@app.command()
def laws(
    arch: Annotated[
        str,
        typer.Argument(
            help="linear, relu, polynomial, polynomial-unit, conv, attention, lightning-attention, softmax, or package.module:function"
        ),
    ],
    sizes: Annotated[
        str,
        typer.Option(
            help="widths (linear/relu/polynomial: in,...,out; conv: length,c_in,c1,..; attention: L,d,dk,dv[,dout]; lightning-attention: L,d,dk,dout; softmax: n_in,n_classes; polynomial-unit: d,degree)"
        ),
    ] = "4,4,4",
    bias: Annotated[bool, typer.Option(help="biases on the hidden layers")] = False,
    loss: Annotated[
        str | None,
        typer.Option(help="mse, logistic, exponential, cross-entropy (default: every loss)"),
    ] = None,
    degree: Annotated[
        int | None, typer.Option(help="also find the polynomial laws up to this degree")
    ] = None,
    augment: Annotated[
        str | None,
        typer.Option(
            help="cyclic, permutation, reflection, rotation:K, orthogonal, or a .npy stack of matrices"
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(help="with --augment (MSE): explain the extra laws by the lifted action"),
    ] = False,
    kernel: Annotated[int, typer.Option(help="convolution width")] = 2,
    points: Annotated[
        int | None,
        typer.Option(
            help="random parameter points for the rank certification (default 4; 2 above 3000 "
            "parameters)"
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    flow: Annotated[
        str,
        typer.Option(
            help="gradient, momentum (heavy ball), nesterov, nmf (metric diag θ), mirror (entropy "
            "mirror map on the last layer: input-convex nets), or a metric+momentum such as "
            "nmf+momentum"
        ),
    ] = "gradient",
    friction: Annotated[float, typer.Option(help="τ of the heavy-ball flow")] = 1.0,
    as_json: JsonOpt = False,
) -> None:
    """Count (and optionally find) the conservation laws of gradient-flow (or momentum, metric)
    training."""

    def go() -> None:
        from noetherlab.training import count_laws
        from noetherlab.training.architectures import build_architecture
        from noetherlab.training.dynamics import parse_flow
        from noetherlab.training.polylaws import find_polynomial_laws

        size_list = _ints(sizes, "--sizes")
        the_flow = parse_flow(flow, friction)
        if augment is not None and not the_flow.euclidean_gradient:
            raise InvalidArgumentError(
                "--flow",
                "augmentation laws are counted for the gradient flow only",
                "drop --augment, or use --flow gradient",
            )
        if explain and augment is None:
            raise InvalidArgumentError(
                "--explain",
                "explains the extra laws of an augmentation, but no --augment was given",
                "add --augment GROUP (e.g. --augment cyclic), or drop --explain",
            )
        model = build_architecture(arch, size_list, bias=bias, kernel=kernel)
        data: dict[str, Any]
        if augment is not None:
            from noetherlab.training.groups import parse_group
            from noetherlab.training.symmetry import augmentation_report

            group = parse_group(augment, model)
            if explain and (loss or "mse") != "mse":
                raise InvalidArgumentError(
                    "--explain", "the lifted action explains MSE laws", "use --loss mse"
                )
            aug = augmentation_report(
                model, group, loss or "mse", points=4 if points is None else points, seed=seed
            )
            if explain:
                from noetherlab.training.lifted import lifted_report

                lifted = lifted_report(
                    model, group, points=4 if points is None else points, seed=seed
                )
                aug = dataclasses.replace(aug, lifted=lifted)
            data = aug.as_dict()
        else:
            title = f"counting the conservation laws of {model.name}"
            with err_console.status(f"{title}...") as status:
                res = count_laws(
                    model,
                    loss=loss,
                    n_points=points,
                    seed=seed,
                    flow=the_flow,
                    progress=lambda line: status.update(f"{title}: {line}"),
                )
            data = {"architecture": model.name, "loss": loss or "any", **res.as_dict()}
            data.pop("points", None)
        if degree is not None:
            grp: np.ndarray | None = None
            if augment is not None:
                from noetherlab.training.groups import parse_group
                from noetherlab.training.symmetry import stand_in_exact

                g = parse_group(augment, model)
                if not stand_in_exact(model, g, loss or "mse"):
                    raise InvalidArgumentError(
                        "--degree",
                        f"polynomial laws under {g.name} need a finite group average that is exact "
                        f"for this loss; the {len(g)}-element stand-in is not",
                        "drop --degree (the count uses the exact average) or use a finite group",
                    )
                grp = g.matrices
            poly = find_polynomial_laws(
                model, degree, loss=loss, group=grp, seed=seed, flow=the_flow
            )
            data["polynomial_laws"] = poly.as_strings()
            data["polynomial_laws_by_block"] = [
                f"{row['kind']} of {' + '.join(row['blocks'])}" for row in poly.by_block()
            ]
            data["polynomial_laws_certified"] = poly.certified
            data["polynomial_laws_verified"] = poly.verified
        _emit(data, as_json, f"conservation laws of {model.name}")

    _run(go, ("sizes", "degree", "augment", "loss", "points", "seed", "flow", "friction"))


@app.command("train-check")
def train_check(
    arch: Annotated[str, typer.Argument(help="as for `laws`")],
    sizes: Annotated[str, typer.Option(help="as for `laws`")] = "3,1",
    bias: Annotated[bool, typer.Option(help="biases on the hidden layers")] = False,
    loss: Annotated[str, typer.Option(help="mse, logistic, exponential, cross-entropy")] = "mse",
    augment: Annotated[
        str | None,
        typer.Option(
            help="cyclic, permutation, reflection, rotation:K, orthogonal, or a .npy file"
        ),
    ] = None,
    lr: Annotated[float, typer.Option(help="step size of every discrete run")] = 0.01,
    steps: Annotated[int, typer.Option(help="steps of every discrete run")] = 300,
    weight_decay: Annotated[float, typer.Option(help="λ of the weight-decay run")] = 0.1,
    samples: Annotated[int, typer.Option(help="base samples (each replaced by its orbit)")] = 16,
    kernel: Annotated[int, typer.Option(help="convolution width")] = 2,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("train-check"),
    as_json: JsonOpt = False,
) -> None:
    """Verify conservation laws on real training runs (flow, GD, SGD, momentum, Nesterov, Adam,
    weight decay): report.md, report.json and figures in --out."""

    def go() -> None:
        from noetherlab.io import check_output_dir
        from noetherlab.training.check import train_check as run_check
        from noetherlab.training.groups import parse_group

        check_output_dir(out)
        from noetherlab.training.architectures import build_architecture

        model = build_architecture(arch, _ints(sizes, "--sizes"), bias=bias, kernel=kernel)
        group = None if augment is None else parse_group(augment, model)
        rep = run_check(
            model,
            loss,
            group,
            n=samples,
            lr=lr,
            steps=steps,
            weight_decay=weight_decay,
            seed=seed,
            out=out,
        )
        if as_json:
            _emit(rep.as_dict(), True, "")
        else:
            table = Table(title=f"training-run check: {model.name} ({rep.average})")
            for col in ("method", "known laws", "augmentation laws", "final loss"):
                table.add_column(col)
            fmt = lambda v: "—" if v is None else f"{v:.2e}"
            for name, row in rep.final_drift.items():
                if row.diverged:
                    table.add_row(name, f"DIVERGED: {row.diverged}", "—", f"{row.final_loss:.4g}")
                    continue
                table.add_row(
                    name, fmt(row.known_laws), fmt(row.augmentation_laws), f"{row.final_loss:.4g}"
                )
            console.print(table)
            console.print(f"report and figures written to {out}/")
        if rep.diverged:
            err_console.print(
                f"[bold red]error:[/] {len(rep.diverged)} training run(s) diverged "
                f"({', '.join(rep.diverged)}); no conservation is claimed for them. Fix: lower --lr."
            )
            raise typer.Exit(1)

    _run(go, ("sizes", "augment", "lr", "steps", "weight_decay", "samples", "seed", "out", "loss"))


@app.command()
def reproduce(
    mode: Annotated[str, typer.Option(help="paper, converged or both")] = "both",
    out: Annotated[Path, typer.Option(help="output directory")] = Path("results"),
    quick: Annotated[
        bool, typer.Option(help="fewer samples, coarser grids, no grid refinement")
    ] = False,
    only: Annotated[
        str | None, typer.Option(help="comma-separated subset of fig1a,fig1b,fig1c,fig2")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="processes running figures side by side (default: up to 2)")
    ] = None,
) -> None:
    """Reproduce the paper's case studies: figures (PNG + SVG), report.md and report.json."""

    def go() -> None:
        from noetherlab.reproduce import FIGURES, default_workers
        from noetherlab.reproduce import reproduce as run

        figs = tuple(f.strip() for f in only.split(",")) if only else FIGURES
        with console.status("reproducing...") as status:
            rep = run(
                out,
                mode=mode,
                quick=quick,
                only=figs,
                progress=lambda n: status.update(f"reproducing {n}..."),
                workers=default_workers() if workers is None else workers,
            )
        from noetherlab.reproduce import summary_rows

        for kind, title in (
            ("reproduction", "published numbers, recomputed"),
            ("analytic", "closed forms"),
        ):
            table = Table(title=title)
            for col in ("check", "published", "ours", "rel. diff", "tolerance", "match"):
                table.add_column(col)
            for c in summary_rows(rep, kind):
                table.add_row(
                    c["name"],
                    f"{c['published']:.10g}",
                    f"{c['ours']:.10g}",
                    f"{c['rel_diff']:.1e}",
                    f"{c['rtol']:.1e}",
                    "yes" if c["match"] else "NO",
                )
            console.print(table)
        console.print(
            f"{rep['seconds']:.0f} s on {rep['workers']} process(es); report in {out}/report.md"
        )
        if not rep["all_checks_match"]:
            raise typer.Exit(1)

    _run(go, ("out", "mode", "only", "workers"))


@app.command()
def landscape(
    model: Annotated[
        str, typer.Argument(help="built-in model (noetherlab models) or package.module:function")
    ],
    box: Annotated[str, typer.Option(help="search region low,high (every coordinate)")] = "-3,3",
    starts: Annotated[
        int | None, typer.Option(help="random Newton starts in the box (default 64·N)")
    ] = None,
    n: Annotated[int, typer.Option(help="segments of each E = 0 path")] = 400,
    key: Annotated[int, typer.Option("--key", "--seed", help="random key of the starts")] = 0,
    param: ParamOpt = None,
    as_json: JsonOpt = False,
    out: Annotated[
        str | None,
        typer.Option(help="also save the transition graph: *.nc (netCDF) or *.json"),
    ] = None,
    noise: Annotated[
        float | None,
        typer.Option(help="isotropic noise D (replaces the model's; barriers scale as 1/D)"),
    ] = None,
) -> None:
    """Attractors, saddles, transitions, barriers and mean exit times (Eyring–Kramers or
    Bouchet–Reygner) of a model."""

    def go() -> None:
        from noetherlab.attractor_landscape import landscape as run
        from noetherlab.io import check_output_file, to_jsonable
        from noetherlab.models import resolve_model

        if out is not None:
            check_output_file(out, suffixes=(".nc", ".nc4", ".json"))

        bounds = _floats(box, "--box")
        if len(bounds) != 2:
            raise InvalidArgumentError(
                "--box", f"needs two numbers, got {box!r}", "e.g. --box -2,2"
            )
        sde = resolve_model(model, _params(param))
        if noise is not None:
            from noetherlab._validation import positive_float
            from noetherlab.sde import SDE

            level = positive_float(noise, "noise", "noise level")
            if sde.time_dependent:
                raise InvalidArgumentError(
                    "noise", f"`{sde.name}` has a time-dependent drift", "landscape needs f(x)"
                )
            drift = sde
            sde = SDE(lambda x: drift.f(x, 0.0), diffusion=level, dim=drift.dim, name=drift.name)
        with err_console.status(f"mapping the landscape of {sde.name}..."):
            res = run(sde, tuple(bounds), starts=starts, key=key, n=n)
        if out is not None:
            res.save(
                out,
                {
                    "model": model,
                    "box": bounds,
                    "starts": starts,
                    "key": key,
                    "n": n,
                    "noise": noise,
                },
            )
        if as_json:
            data = to_jsonable(res.as_dict())
            sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
            return
        table = Table(title=f"{sde.name}: fixed points ({res.search.summary()})")
        for col in ("#", "kind", "index", "x", "leading eigenvalue"):
            table.add_column(col, overflow="fold")
        for i, p in enumerate((*res.attractors, *res.saddles)):
            label = f"A{i}" if i < len(res.attractors) else f"S{i - len(res.attractors)}"
            x = ", ".join(f"{v:.4g}" for v in p.x[:6]) + (" …" if p.x.size > 6 else "")
            table.add_row(label, p.kind, str(p.index), x, f"{p.eigenvalues[0].real:.4g}")
        console.print(table)
        tr = Table(title=f"transitions ({'gradient' if res.gradient else 'non-gradient'} drift)")
        for col in ("from", "to", "via", "barrier S", "mean exit time", "how"):
            tr.add_column(col, overflow="fold")
        for t in res.transitions:
            tau = "-" if t.mean_exit_time is None else f"{t.mean_exit_time:.4g}"
            barrier = f"{t.barrier:.6g}" + ("" if t.converged else " (not converged)")
            tr.add_row(f"A{t.source}", f"A{t.target}", f"S{t.saddle}", barrier, tau, t.rate_method)
        console.print(tr)

    _run(go, ("box", "starts", "n", "key", "out", "noise"))


@app.command()
def simulate(
    model: Annotated[
        str, typer.Argument(help="built-in model (noetherlab models) or package.module:function")
    ],
    x0: Annotated[str, typer.Option(help="start state, comma-separated")],
    T: Annotated[float, typer.Option("--T", help="time horizon")],
    dt: Annotated[float, typer.Option(help="time step")],
    n_paths: Annotated[
        int, typer.Option("--n-paths", "--paths", help="number of sample paths")
    ] = 10_000,
    key: Annotated[int, typer.Option("--key", "--seed", help="random key (an integer seed)")] = 0,
    save_every: Annotated[
        int | None, typer.Option(help="keep every k-th state (default: final states only)")
    ] = None,
    lower: Annotated[float | None, typer.Option(help="absorbing lower bound on x[0]")] = None,
    upper: Annotated[float | None, typer.Option(help="absorbing upper bound on x[0]")] = None,
    param: ParamOpt = None,
    out: Annotated[
        Path, typer.Option(help="netCDF file (.nc), or a new Zarr store (.zarr) with --workers")
    ] = Path("ensemble.nc"),
    workers: Annotated[
        int | None,
        typer.Option(
            help="split into chunk tasks on a local Dask cluster of this many processes "
            "(0: this process); keeps statistics, written to --out .zarr"
        ),
    ] = None,
    scheduler: SchedulerOpt = None,
    chunk_size: Annotated[int, typer.Option(help="paths per chunk task")] = 100_000,
    keep_final: Annotated[
        bool, typer.Option(help="with --workers/--scheduler: also store every final state")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Simulate an ensemble (Euler–Maruyama) and save it as netCDF with its parameters; with
    --workers or --scheduler, as chunk tasks on Dask, keeping statistics (exit counts, moments,
    histograms) in a Zarr store."""

    def go() -> None:
        from noetherlab.io import NETCDF_SUFFIXES, check_output_file, save_dataset
        from noetherlab.models import resolve_model
        from noetherlab.sampling import interval
        from noetherlab.sampling import simulate as sim

        distributed = workers is not None or scheduler is not None
        if not distributed:
            check_output_file(out, suffixes=NETCDF_SUFFIXES)
        elif out.suffix != ".zarr":
            raise InvalidArgumentError(
                "--out",
                f"{str(out)!r}: with --workers/--scheduler the statistics go to a Zarr store",
                f"name it with .zarr, e.g. {out.with_suffix('.zarr')}",
            )
        params = _params(param)
        sde = resolve_model(model, params)
        boundary = None
        if lower is not None or upper is not None:
            boundary = interval(
                -np.inf if lower is None else lower, np.inf if upper is None else upper
            )
        problem = (sde, _floats(x0, "--x0"), T, dt, n_paths)
        common: dict[str, Any] = {"key": key, "boundary": boundary, "progress": not as_json}
        if distributed:
            if save_every is not None:
                raise InvalidArgumentError(
                    "--save-every",
                    "keeps whole paths, but --workers/--scheduler keep statistics",
                    "drop --save-every, or drop --workers/--scheduler",
                )
            from noetherlab.distributed import ensemble_statistics

            stats = ensemble_statistics(
                *problem,
                **common,
                chunk_size=chunk_size,
                workers=workers,
                scheduler=scheduler,
                store=out,
                keep_final=keep_final,
            )
            exits_d = {name: stats.exit_fraction(name) for name in stats.labels}
            _emit(
                {
                    "store": str(out),
                    "n_paths": stats.n_paths,
                    "chunks": stats.chunks,
                    "workers": stats.workers,
                    "exit_fraction": exits_d or None,
                    "mean_final": stats.final_mean,
                    "var_final": stats.final_var,
                    "seconds": stats.seconds,
                },
                as_json,
                f"ensemble statistics of {sde.name}",
            )
            return
        ens = sim(
            *problem,
            **common,
            save="paths" if save_every is not None else "final",
            save_every=save_every,
        )
        save_dataset(
            out, ens.to_dataset(), {"model": model, "model_params": params, **ens.parameters}
        )
        exits: dict[str, Any] | None = None
        if boundary is not None:
            exits = {"any": ens.exit_fraction()}
            exits.update({name: ens.exit_fraction(name) for name in ens.labels})
        _emit(
            {
                "file": str(out),
                "n_paths": ens.n_paths,
                "exit_fraction": exits,
                "mean_final": ens.final.mean(0),
                "seconds": ens.seconds,
            },
            as_json,
            f"ensemble of {sde.name}",
        )

    _run(
        go,
        ("x0", "T", "dt", "n_paths", "key", "save_every", "lower", "upper", "workers", "scheduler"),
    )


@app.command()
def sweep(
    spec: Annotated[
        Path, typer.Argument(help="TOML sweep spec: computation, [parameters], [grid]")
    ],
    out: Annotated[
        Path, typer.Option(help="Zarr store of the results (resumed if it exists)")
    ] = Path("sweep.zarr"),
    workers: Annotated[
        int | None,
        typer.Option(help="local Dask worker processes (default: CPU count; 0: this process)"),
    ] = None,
    scheduler: SchedulerOpt = None,
    retry_failed: Annotated[
        bool, typer.Option(help="run again the points that failed in an earlier run")
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Run every point of a parameter grid as a Dask task; results, status, errors and wall times
    go to one Zarr store, and a second run resumes what is missing. Example spec:

    computation = "path" / [parameters] model = "ou", x0 = [1.0, 1.0], x1 = [0.0, 1.0] /
    [grid] T = [0.5, 1.0, 2.0], "model.D" = [0.5, 1.0]
    """

    def go() -> None:
        from noetherlab.distributed import load_spec
        from noetherlab.distributed import sweep as run_sweep

        the_spec = load_spec(spec)
        if as_json:
            res = run_sweep(
                the_spec, out, workers=workers, scheduler=scheduler, retry_failed=retry_failed
            )
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=err_console,
            ) as bar:
                task = bar.add_task(f"sweep of {the_spec.size} points", total=None)

                def show(p: Any) -> None:
                    bar.update(
                        task,
                        total=p.total,
                        completed=p.done + p.failed,
                        description=f"done {p.done}, failed {p.failed}, running {p.running}",
                    )

                res = run_sweep(
                    the_spec,
                    out,
                    workers=workers,
                    scheduler=scheduler,
                    retry_failed=retry_failed,
                    progress=show,
                )
        _emit(res.summary(), as_json, f"sweep {spec}")
        if res.failed:
            raise typer.Exit(1)

    _run(go, ("workers", "scheduler", "out"))


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
