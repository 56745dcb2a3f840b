"""``noetherlab laws``: count (and find) the conservation laws of training, with or without a data
augmentation group."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from noetherlab._core.errors import InvalidArgumentError
from noetherlab.cli.options import JsonOpt, emit, err_console, ints, reports_errors

__all__ = ["laws"]

ArchArg = Annotated[
    str,
    typer.Argument(
        help="linear, relu, polynomial, polynomial-unit, conv, attention, lightning-attention, "
        "softmax, layernorm, rmsnorm, batchnorm, residual, resnet, mha, transformer, "
        "transformer-pre, or package.module:function"
    ),
]
SizesOpt = Annotated[
    str,
    typer.Option(
        help="widths (linear/relu/polynomial: in,...,out; conv: length,c_in,c1,..; attention: "
        "L,d,dk,dv[,dout]; lightning-attention: L,d,dk,dout; softmax: n_in,n_classes; "
        "polynomial-unit: d,degree; layernorm/rmsnorm/batchnorm: in,...,out; residual: "
        "d,hidden[,blocks[,out]]; resnet: image,c_in,channels[,blocks[,classes]] (a batch of 4 "
        "images per input); mha: L,d,heads,dk,dv[,dout]; transformer(-pre): "
        "L,d,heads,dk,dv,ff[,layers[,out]])"
    ),
]
AugmentOpt = Annotated[
    str | None,
    typer.Option(
        help="cyclic, permutation, reflection, rotation:K, orthogonal, or a .npy stack of matrices"
    ),
]
BiasOpt = Annotated[bool, typer.Option(help="biases on the hidden layers")]
KernelOpt = Annotated[
    int, typer.Option(help="convolution width (conv: default 2; resnet: odd, 3 unless given)")
]
SeedOpt = Annotated[int, typer.Option(help="random seed")]


@reports_errors("sizes", "degree", "augment", "loss", "points", "seed", "flow", "friction")
def laws(
    arch: ArchArg,
    sizes: SizesOpt = "4,4,4",
    bias: BiasOpt = False,
    loss: Annotated[
        str | None,
        typer.Option(help="mse, logistic, exponential, cross-entropy (default: every loss)"),
    ] = None,
    degree: Annotated[
        int | None, typer.Option(help="also find the polynomial laws up to this degree")
    ] = None,
    augment: AugmentOpt = None,
    explain: Annotated[
        bool,
        typer.Option(help="with --augment (MSE): explain the extra laws by the lifted action"),
    ] = False,
    kernel: KernelOpt = 2,
    points: Annotated[
        int | None,
        typer.Option(
            help="random parameter points for the rank certification (default 4; 2 above 3000 "
            "parameters)"
        ),
    ] = None,
    seed: SeedOpt = 0,
    flow: Annotated[
        str,
        typer.Option(
            help="gradient, momentum (heavy ball), nesterov, nmf (metric diag θ), mirror (entropy "
            "mirror map on the last layer: input-convex nets), or a metric+momentum such as "
            "nmf+momentum"
        ),
    ] = "gradient",
    friction: Annotated[float, typer.Option(help="τ of the heavy-ball flow")] = 1.0,
    subset: Annotated[
        str | None,
        typer.Option(
            help="count only the laws that depend on these parameters (comma-separated keys, "
            "e.g. Q1,K1,V1,O1): rank decisions in their dimension, not the model's"
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Count (and optionally find) the conservation laws of gradient-flow (or momentum, metric)
    training."""
    from noetherlab.training.catalogue import build_architecture
    from noetherlab.training.dynamics import parse_flow
    from noetherlab.training.groups import parse_group

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
    model = build_architecture(arch, ints(sizes, "--sizes"), bias=bias, kernel=kernel)
    if subset is not None:
        if augment is not None or degree is not None or not the_flow.euclidean_gradient:
            raise InvalidArgumentError(
                "--subset",
                "counts the laws of a parameter subset for the plain gradient flow",
                "drop --augment, --degree and --flow, or drop --subset",
            )
        emit(_subset(model, subset, loss, points, seed), as_json, f"laws of {subset}")
        return
    group = None if augment is None else parse_group(augment, model)
    n_points = 4 if points is None else points
    if group is not None:
        data = _augmented(model, group, loss or "mse", explain, n_points, seed)
    else:
        data = _counted(model, loss, points, seed, the_flow)
    if degree is not None:
        data.update(_polynomial(model, degree, loss, group, seed, the_flow))
    emit(data, as_json, f"conservation laws of {model.name}")


def _augmented(
    model: Any, group: Any, loss: str, explain: bool, points: int, seed: int
) -> dict[str, Any]:
    """The certified counts without and with the augmentation (and, with ``explain``, the lifted
    action behind the extra laws)."""
    from noetherlab.training.lifted import lifted_report
    from noetherlab.training.symmetry import augmentation_report

    if explain and loss != "mse":
        raise InvalidArgumentError(
            "--explain", "the lifted action explains MSE laws", "use --loss mse"
        )
    aug = augmentation_report(model, group, loss, points=points, seed=seed)
    if explain:
        aug = dataclasses.replace(aug, lifted=lifted_report(model, group, points=points, seed=seed))
    return aug.as_dict()


def _counted(
    model: Any, loss: str | None, points: int | None, seed: int, flow: Any
) -> dict[str, Any]:
    """The certified count of the laws of ``flow`` (with a status line while it runs)."""
    from noetherlab.training.lie import count_laws

    title = f"counting the conservation laws of {model.name}"
    with err_console.status(f"{title}...") as status:
        res = count_laws(
            model,
            loss=loss,
            n_points=points,
            seed=seed,
            flow=flow,
            progress=lambda line: status.update(f"{title}: {line}"),
        )
    data = {"architecture": model.name, "loss": loss or "any", **res.as_dict()}
    data.pop("points", None)
    return data


def _subset(
    model: Any, subset: str, loss: str | None, points: int | None, seed: int
) -> dict[str, Any]:
    """The certified count of the laws of the parameters named in ``subset``."""
    from noetherlab.training.subsets import count_subset_laws

    names = [name.strip() for name in subset.split(",") if name.strip()]
    title = f"counting the laws of {', '.join(names)} in {model.name}"
    try:
        with err_console.status(f"{title}...") as status:
            res = count_subset_laws(
                model,
                names,
                loss=loss,
                n_points=points,
                seed=seed,
                progress=lambda line: status.update(f"{title}: {line}"),
            )
    except InvalidArgumentError as err:
        if err.argument == "subset":
            raise InvalidArgumentError("--subset", err.problem, err.fix) from None
        raise
    data = {"architecture": model.name, "loss": loss or "any", "subset": names, **res.as_dict()}
    data.pop("points", None)
    return data


def _polynomial(
    model: Any, degree: int, loss: str | None, group: Any, seed: int, flow: Any
) -> dict[str, Any]:
    """The polynomial laws up to ``degree`` (under the group's finite average, which must be
    exact for the loss)."""
    from noetherlab.training.polylaws import find_polynomial_laws
    from noetherlab.training.symmetry import stand_in_exact

    if group is not None and not stand_in_exact(model, group, loss or "mse"):
        raise InvalidArgumentError(
            "--degree",
            f"polynomial laws under {group.name} need a finite group average that is exact for "
            f"this loss; the {len(group)}-element stand-in is not",
            "drop --degree (the count uses the exact average) or use a finite group",
        )
    poly = find_polynomial_laws(
        model,
        degree,
        loss=loss,
        group=None if group is None else group.matrices,
        seed=seed,
        flow=flow,
    )
    return {
        "polynomial_laws": poly.as_strings(),
        "polynomial_laws_by_block": [
            f"{row['kind']} of {' + '.join(row['blocks'])}" for row in poly.by_block()
        ],
        "polynomial_laws_status": poly.status,
        "polynomial_laws_certified": poly.certified,
        "polynomial_laws_verified": poly.verified,
    }
