"""Adversarial examples on the simplest model there is: a line.

Fit ``y = a x + b`` to noisy points by gradient descent on the squared loss
``L = mean((a x_i + b - y_i)^2)``, then freeze ``a`` and ``b`` and move the *data* instead
of the parameters: ``x_i <- x_i + eps * sign(dL/dx_i)`` with
``dL/dx_i = 2 a (a x_i + b - y_i) / n``. This is the Fast Gradient Sign Method
(Goodfellow, Shlens & Szegedy 2015, "Explaining and Harnessing Adversarial Examples") in
one dimension: every point moves by at most ``eps`` (Linf), yet the loss rises. Prints the
loss before and after and saves a plot.

    python examples/linear_regression.py --eps 0.3 --out linear_regression.png
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Line:
    a: float
    b: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.a * x + self.b


def squared_loss(line: Line, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((line(x) - y) ** 2))


def make_points(*, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy points around y = 2x + 1 for x in [0, 5]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 5.0, n)
    return x, 2.0 * x + 1.0 + rng.normal(0.0, 0.5, n)


def fit_line(
    x: np.ndarray, y: np.ndarray, *, lr: float = 0.02, steps: int = 2000
) -> Line:
    """Gradient descent on the parameters: dL/da = mean(2 r x), dL/db = mean(2 r),
    r = a x + b - y."""
    a, b = 0.0, 0.0
    for _ in range(steps):
        residual = a * x + b - y
        a -= lr * float(np.mean(2 * residual * x))
        b -= lr * float(np.mean(2 * residual))
    return Line(a, b)


def attack_inputs(line: Line, x: np.ndarray, y: np.ndarray, *, eps: float) -> np.ndarray:
    """Move each x_i by eps in the sign of dL/dx_i; the parameters stay frozen."""
    grad = 2 * line.a * (line(x) - y) / len(x)
    return x + eps * np.sign(grad)


def save_plot(
    path: Path, line: Line, x: np.ndarray, x_adv: np.ndarray, y: np.ndarray
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    grid = np.linspace(min(x.min(), x_adv.min()), max(x.max(), x_adv.max()), 50)
    ax.plot(
        grid,
        line(grid),
        color="black",
        label=f"fitted line y = {line.a:.2f} x + {line.b:.2f}",
    )
    ax.scatter(x, y, s=14, label="original points")
    ax.scatter(x_adv, y, s=14, marker="x", label="points moved by eps * sign(dL/dx)")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> tuple[float, float]:
    parser = argparse.ArgumentParser(
        description="Fit a line, then move the data points to raise its loss."
    )
    parser.add_argument("--eps", type=float, default=0.3, help="how far each x may move")
    parser.add_argument("--n", type=int, default=40, help="number of points")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", default="linear_regression.png", help="where to save the plot"
    )
    parser.add_argument(
        "--small",
        action="store_true",
        help="accepted for the tests (this example is always small)",
    )
    args = parser.parse_args(argv)
    if args.eps < 0 or args.n < 2:
        parser.error("--eps must be >= 0 and --n >= 2")
    x, y = make_points(n=args.n, seed=args.seed)
    line = fit_line(x, y)
    x_adv = attack_inputs(line, x, y, eps=args.eps)
    before, after = squared_loss(line, x, y), squared_loss(line, x_adv, y)
    print(f"fitted line: y = {line.a:.3f} x + {line.b:.3f}")
    print(f"loss before: {before:.4f}")
    print(f"loss after:  {after:.4f}  (every x moved by eps = {args.eps})")
    assert after > before, (
        "moving every x by at most eps along the loss gradient's sign raises the loss"
    )
    save_plot(Path(args.out), line, x, x_adv, y)
    print(f"plot saved to {args.out}")
    return before, after


if __name__ == "__main__":
    main()
