"""Gallery entries for a report: a clean image, its adversarial version and the predictions.

The images are (C, H, W) float arrays rescaled to [0, 1] whatever the data bounds were, so the
report can draw them without knowing the bounds. :func:`gallery_items` picks the examples from
one attack at one eps: "worst" cases are the most confident wrong predictions, "typical" ones
are fooled inputs whose adversarial confidence lies nearest the median of the fooled inputs.
Shapes: x, x_adv (N, C, H, W); clean_logits, adv_logits (N, K); y (N,).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from feint.errors import InputError
from feint.report.html import esc, num, pct
from feint.report.plots import image_uri, perturbation_image
from feint.validation import Bounds, check_choice

KINDS = ("typical", "worst")


@dataclass(frozen=True)
class GalleryItem:
    """One row of the gallery. ``image`` and ``adversarial`` are (C, H, W) arrays in [0, 1]; the
    confidences are None where only labels are known (a label-only oracle)."""

    image: np.ndarray
    adversarial: np.ndarray
    label: str
    clean_pred: str
    clean_conf: float | None
    adv_pred: str
    adv_conf: float | None
    attack: str
    eps: float
    kind: str = "typical"

    def __post_init__(self) -> None:
        check_choice(self.kind, KINDS, "gallery kind")
        if self.image.ndim != 3 or self.image.shape != self.adversarial.shape:
            raise InputError(
                f"gallery images must be two (C, H, W) arrays of one shape, got {self.image.shape} "
                f"and {self.adversarial.shape}; pass x[i] and x_adv[i] of a NCHW batch"
            )

    @property
    def perturbation(self) -> np.ndarray:
        """``adversarial - image`` in [0, 1] units, (C, H, W)."""
        return self.adversarial.astype(np.float64) - self.image.astype(np.float64)


def _unit(images: Tensor, bounds: Bounds) -> np.ndarray:
    lo, hi = bounds
    return ((images.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1).numpy()


def pick_fooled(
    y: Tensor, clean_logits: Tensor, adv_logits: Tensor, *, n_typical: int = 4, n_worst: int = 4
) -> list[tuple[str, int]]:
    """``(kind, row)`` of up to ``n_worst`` worst and ``n_typical`` typical fooled inputs (clean
    correct, adversarial wrong): the most confident mistakes, then those nearest the median confidence."""
    clean_pred = clean_logits.detach().argmax(1)
    adv_conf, adv_pred = adv_logits.detach().float().softmax(1).max(1)
    fooled = ((clean_pred == y) & (adv_pred != y)).nonzero().flatten()
    if fooled.numel() == 0:
        return []
    by_conf = fooled[adv_conf[fooled].argsort(descending=True, stable=True)]
    worst = by_conf[:n_worst].tolist()
    rest = by_conf[n_worst:]
    median = adv_conf[fooled].median()
    typical = rest[(adv_conf[rest] - median).abs().argsort(stable=True)][:n_typical].tolist()
    return [("worst", i) for i in worst] + [("typical", i) for i in typical]


def _check_batch(x: Tensor, x_adv: Tensor, y: Tensor, clean_logits: Tensor, adv_logits: Tensor) -> None:
    if x.shape != x_adv.shape or clean_logits.shape != adv_logits.shape or x.shape[0] != y.shape[0]:
        raise InputError("x, x_adv, y and both logits must describe the same batch of inputs")


def make_items(
    kinds: Sequence[str],
    x: Tensor,
    x_adv: Tensor,
    y: Tensor,
    clean_logits: Tensor,
    adv_logits: Tensor,
    *,
    class_names: Sequence[str],
    attack: str,
    eps: float,
    bounds: Bounds = (0.0, 1.0),
) -> list[GalleryItem]:
    """One :class:`GalleryItem` per row of the (already picked) inputs, of the given ``kinds``."""
    _check_batch(x, x_adv, y, clean_logits, adv_logits)
    if len(class_names) != clean_logits.shape[1]:
        raise InputError(
            f"class_names has {len(class_names)} names but the logits have {clean_logits.shape[1]} classes"
        )
    clean_conf, clean_pred = clean_logits.detach().float().softmax(1).max(1)
    adv_conf, adv_pred = adv_logits.detach().float().softmax(1).max(1)
    picks = [(kind, i) for i, kind in enumerate(kinds)]
    predictions = (clean_pred, clean_conf, adv_pred, adv_conf)
    return _items(x, x_adv, y, picks, predictions, class_names=class_names, attack=attack, eps=eps, bounds=bounds)


def gallery_items(
    x: Tensor,
    x_adv: Tensor,
    y: Tensor,
    clean_logits: Tensor,
    adv_logits: Tensor,
    *,
    class_names: Sequence[str],
    attack: str,
    eps: float,
    n_typical: int = 4,
    n_worst: int = 4,
    bounds: Bounds = (0.0, 1.0),
) -> list[GalleryItem]:
    """Pick up to ``n_worst`` worst and ``n_typical`` typical fooled inputs (clean correct,
    adversarial wrong); fewer when fewer were fooled, none when none was."""
    _check_batch(x, x_adv, y, clean_logits, adv_logits)
    picks = pick_fooled(y, clean_logits, adv_logits, n_typical=n_typical, n_worst=n_worst)
    rows = [i for _, i in picks]
    return make_items(
        [kind for kind, _ in picks],
        x[rows],
        x_adv[rows],
        y[rows],
        clean_logits[rows],
        adv_logits[rows],
        class_names=class_names,
        attack=attack,
        eps=eps,
        bounds=bounds,
    )


def _items(
    x: Tensor,
    x_adv: Tensor,
    y: Tensor,
    picks: Sequence[tuple[str, int]],
    predictions: tuple[Tensor, Tensor | None, Tensor, Tensor | None],
    *,
    class_names: Sequence[str],
    attack: str,
    eps: float,
    bounds: Bounds,
) -> list[GalleryItem]:
    """Gallery items for the rows in ``picks`` ((kind, row) pairs); ``predictions`` holds the clean
    and adversarial labels and their confidences (None when only labels are known)."""
    clean_pred, clean_conf, adv_pred, adv_conf = predictions
    rows = [i for _, i in picks]
    clean_img, adv_img = _unit(x[rows], bounds), _unit(x_adv[rows], bounds)
    names = [str(c) for c in class_names]
    return [
        GalleryItem(
            image=clean_img[j],
            adversarial=adv_img[j],
            label=names[int(y[i])],
            clean_pred=names[int(clean_pred[i])],
            clean_conf=None if clean_conf is None else float(clean_conf[i]),
            adv_pred=names[int(adv_pred[i])],
            adv_conf=None if adv_conf is None else float(adv_conf[i]),
            attack=attack,
            eps=float(eps),
            kind=kind,
        )
        for j, (kind, i) in enumerate(picks)
    ]


def label_gallery_items(
    x: Tensor,
    x_adv: Tensor,
    y: Tensor,
    clean_pred: Tensor,
    adv_pred: Tensor,
    *,
    class_names: Sequence[str],
    attack: str,
    eps: float,
    n: int = 8,
    bounds: Bounds = (0.0, 1.0),
) -> list[GalleryItem]:
    """Up to ``n`` fooled inputs (``clean_pred == y``, ``adv_pred != y``) from labels alone, as a
    label-only oracle answers them; evenly spread over the fooled inputs in their given order."""
    if x.shape != x_adv.shape or not (x.shape[0] == y.shape[0] == clean_pred.shape[0] == adv_pred.shape[0]):
        raise InputError("x, x_adv, y and both predictions must describe the same batch of inputs")
    fooled = ((clean_pred == y) & (adv_pred != y)).nonzero().flatten()
    if fooled.numel() == 0 or n < 1:
        return []
    rows = fooled[torch.linspace(0, fooled.numel() - 1, min(n, fooled.numel())).round().long()].tolist()
    picks = [("typical", i) for i in rows]
    predictions = (clean_pred, None, adv_pred, None)
    return _items(x, x_adv, y, picks, predictions, class_names=class_names, attack=attack, eps=eps, bounds=bounds)


def gallery_tiles(item: GalleryItem, *, size: int = 112) -> tuple[str, str, str, float]:
    """Original, amplified perturbation and adversarial image as data URIs, and the amplification."""
    delta, amplification = perturbation_image(item.perturbation)
    return (
        image_uri(item.image, size=size),
        image_uri(delta, size=size),
        image_uri(item.adversarial, size=size),
        amplification,
    )


def card_html(item: GalleryItem) -> str:
    clean, delta, adv, amplification = gallery_tiles(item)
    tiles = "".join(
        f'<figure><img src="{uri}" alt="{esc(cap)}"><figcaption>{esc(cap)}</figcaption></figure>'
        for uri, cap in ((clean, "original"), (delta, f"perturbation ×{amplification:.3g}"), (adv, "adversarial"))
    )
    clean_conf = "" if item.clean_conf is None else f" ({pct(item.clean_conf)})"
    adv_conf = "" if item.adv_conf is None else f" ({pct(item.adv_conf)})"
    text = (
        f"true <b>{esc(item.label)}</b> · clean: {esc(item.clean_pred)}{clean_conf}"
        f" → adversarial: <b>{esc(item.adv_pred)}</b>{adv_conf}<br>"
        f'<span class="muted">{esc(item.attack)}, eps {num(item.eps)}</span>'
    )
    return f'<div class="card"><div class="tiles">{tiles}</div><p>{text}</p></div>'


def gallery_html(items: Sequence[GalleryItem]) -> str:
    if not items:
        return '<p class="muted">No examples to show: no input was fooled, or none was selected.</p>'
    parts = []
    for kind, title in (("worst", "Worst cases (most confident mistakes)"), ("typical", "Typical cases")):
        cards = "".join(card_html(it) for it in items if it.kind == kind)
        parts.append(f'<h3>{esc(title)}</h3><div class="gallery">{cards}</div>' if cards else "")
    note = "The perturbation is drawn around mid grey (no change) and amplified by the stated factor."
    return f'<p class="muted">{esc(note)}</p>' + "".join(parts)


def tile_grid(tiles: Sequence[tuple[np.ndarray, str]], *, size: int = 112, columns: int | None = None) -> str:
    """A grid of single images, each (C, H, W) in [0, 1] with a caption given as markup;
    ``columns`` fixes the number per row (default: as many as fit)."""
    if not tiles:
        return '<p class="muted">No images.</p>'
    cells = "".join(
        f'<div class="tile"><img src="{image_uri(image, size=size)}" alt="image {i}"><div>{caption}</div></div>'
        for i, (image, caption) in enumerate(tiles)
    )
    style = f' style="grid-template-columns: repeat({int(columns)}, minmax(0, 132px))"' if columns else ""
    return f'<div class="tilegrid"{style}>{cells}</div>'
