"""Small helpers for tests that look inside run directories."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def run_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
