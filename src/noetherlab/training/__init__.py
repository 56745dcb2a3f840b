"""Conservation laws of gradient-flow training: count them, find them, know them, check them."""

from noetherlab.training.architectures import (
    Architecture,
    attention,
    conv1d_net,
    custom,
    lightning_attention,
    linear_net,
    polynomial_net,
    polynomial_unit,
    product_model,
    relu_net,
    softmax_layer,
)
from noetherlab.training.blocks import multihead_attention, normalised_net, residual_net
from noetherlab.training.broken import LawEvolution, law_evolution
from noetherlab.training.dynamics import Flow
from noetherlab.training.known import KnownLaw, KnownLaws, known_laws
from noetherlab.training.lie import LawCount, count_laws
from noetherlab.training.losses import CROSS_ENTROPY, EXPONENTIAL, LOGISTIC, MSE, Loss
from noetherlab.training.modules import from_module
from noetherlab.training.polylaws import PolynomialLaws, find_polynomial_laws
from noetherlab.training.resnet import resnet
from noetherlab.training.subsets import count_subset_laws
from noetherlab.training.transformer import transformer_encoder

__all__ = [
    "CROSS_ENTROPY",
    "EXPONENTIAL",
    "LOGISTIC",
    "MSE",
    "Architecture",
    "Flow",
    "KnownLaw",
    "KnownLaws",
    "LawCount",
    "LawEvolution",
    "Loss",
    "PolynomialLaws",
    "attention",
    "conv1d_net",
    "count_laws",
    "count_subset_laws",
    "custom",
    "find_polynomial_laws",
    "from_module",
    "known_laws",
    "law_evolution",
    "lightning_attention",
    "linear_net",
    "multihead_attention",
    "normalised_net",
    "polynomial_net",
    "polynomial_unit",
    "product_model",
    "relu_net",
    "residual_net",
    "resnet",
    "softmax_layer",
    "transformer_encoder",
]
