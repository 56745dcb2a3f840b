"""Train the small PyTorch GRU of the 3-bit flip-flop task (Sussillo & Barak 2013) whose weights
``flipflop_gru.npz`` the tests and the RNN tutorial import (``python make_flipflop_gru.py``).

Task: three input channels carry rare pulses of ±1 (probability 0.04 per step and channel); each
of the three outputs must hold the sign of its channel's last pulse (0 before the first pulse).
A ``torch.nn.GRU(3, 16)`` with a linear readout, trained with Adam on the mean squared error of
batches of 64 sequences of 80 steps. Seeded: the file is reproducible on one PyTorch build."""

from pathlib import Path

import numpy as np
import torch

HIDDEN, STEPS, BATCH, LENGTH, P_PULSE = 16, 1500, 64, 80, 0.04


def batch(rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    pulses = (rng.random((BATCH, LENGTH, 3)) < P_PULSE) * rng.choice(
        [-1.0, 1.0], (BATCH, LENGTH, 3)
    )
    pulses[:, 0] = rng.choice([-1.0, 1.0], (BATCH, 3))  # every bit is set at the start
    target = np.zeros_like(pulses)
    state = np.zeros((BATCH, 3))
    for t in range(LENGTH):
        state = np.where(pulses[:, t] != 0, pulses[:, t], state)
        target[:, t] = state
    return torch.tensor(pulses), torch.tensor(target)


def main() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    gru = torch.nn.GRU(3, HIDDEN, batch_first=True).double()
    readout = torch.nn.Linear(HIDDEN, 3).double()
    opt = torch.optim.Adam([*gru.parameters(), *readout.parameters()], lr=1e-2)
    for step in range(STEPS):
        u, y = batch(rng)
        h, _ = gru(u)
        loss = torch.mean((readout(h) - y) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 250 == 0 or step == STEPS - 1:
            print(step, float(loss.detach()))
    sd = {k: v.detach().numpy() for k, v in gru.state_dict().items()}
    np.savez(
        Path(__file__).with_name("flipflop_gru.npz"),
        **sd,
        readout_weight=readout.weight.detach().numpy(),
        readout_bias=readout.bias.detach().numpy(),
        final_loss=float(loss.detach()),
    )


if __name__ == "__main__":
    main()
