"""PyTorch eager mode, written the usual way: nn.Sequential, randperm batches, one optimizer step
per batch, the epoch loss accumulated with loss.item()."""

from __future__ import annotations

import os

from suite.workloads import Workload, n_outputs


def fit_mlp(w: Workload, d: dict, epochs: int, meter):
    import torch
    from torch import nn

    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    X, y, Xte = (torch.from_numpy(d[k]) for k in ("Xtr", "ytr", "Xte"))
    with meter:
        layers, width = [], X.shape[1]
        for units in w.hidden:
            layers += [nn.Linear(width, units), nn.ReLU() if w.activation == "relu" else nn.Tanh()]
            width = units
        model = nn.Sequential(*layers, nn.Linear(width, n_outputs(w, d)))
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        if w.classification:
            opt = torch.optim.Adam(model.parameters(), lr=w.lr)
            loss_fn = nn.functional.cross_entropy
        else:  # 0.5 * MSE: scikit-learn's objective, at its learning rate
            opt = torch.optim.SGD(model.parameters(), lr=w.lr, momentum=0.9, nesterov=False)

            def loss_fn(out, t):
                return 0.5 * nn.functional.mse_loss(out[:, 0], t)
        for _ in range(epochs):
            perm, total = torch.randperm(len(X)), 0.0
            for lo in range(0, len(X), w.batch):
                idx = perm[lo:lo + w.batch]
                loss = loss_fn(model(X[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)  # the epoch's loss, as nncli and sklearn keep it
    with torch.no_grad():
        out = model(Xte)
    return (out.argmax(dim=1) if w.classification else out[:, 0]).numpy(), {"torch_threads": torch.get_num_threads()}
