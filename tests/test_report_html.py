"""The HTML report: rendered from a report built by a real FGSM sweep on the digits LeNet."""

from __future__ import annotations

import base64
import copy
import json
import struct
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from feint.attacks import fgsm, predict_logits
from feint.capabilities.audit.page import render_report_html, write_report_html
from feint.data import Dataset
from feint.errors import InputError
from feint.measure.metrics import (
    confusion_matrix,
    goodfellow_row,
    outcome_counts,
    per_class_accuracy,
    perturbation_stats,
)
from feint.report.files import json_safe
from feint.report.gallery import GalleryItem, gallery_items
from feint.report.plots import perturbation_image

EPS = [0.0, 0.05, 0.1, 0.2]
SECTIONS = ("accuracy", "goodfellow", "per-class", "perturbations", "min-norm", "outcomes", "gallery", "checks")
EVIL = "<script>alert(1)</script>"


def _noise(x: torch.Tensor, eps: float) -> torch.Tensor:
    sign = torch.randint(0, 2, x.shape, generator=torch.Generator().manual_seed(0)).float() * 2 - 1
    return (x + eps * sign).clamp(0, 1)


def build_report(model: nn.Module, data: Dataset, n: int = 96) -> tuple[dict[str, Any], list[GalleryItem]]:
    """A feint.audit/1 report from FGSM and a noise baseline, computed with the metrics under test."""
    x, y, names = data.x[:n], data.y[:n], list(data.info.class_names)
    clean = predict_logits(model, x)
    clean_ok = clean.argmax(1) == y
    cm = confusion_matrix(clean.argmax(1), y, 10)
    broken_at = torch.full((n,), float("inf"))
    fgsm_acc, noise_acc, worst_acc, robust, good, sizes, outcomes = [], [], [], [], [], [], []
    gallery: list[GalleryItem] = []
    for eps in EPS:
        adv = fgsm(model, x, y, eps=eps)
        noisy = predict_logits(model, _noise(x, eps))
        worst_ok = clean_ok & ~adv.success & (noisy.argmax(1) == y)
        broken_at = torch.where(clean_ok & adv.success & broken_at.isinf(), torch.tensor(eps), broken_at)
        fgsm_acc.append(adv.accuracy)
        noise_acc.append(float((noisy.argmax(1) == y).float().mean()))
        worst_acc.append(float(worst_ok.float().mean()))
        robust.append(per_class_accuracy(worst_ok, y, 10))
        error_rate, confidence = goodfellow_row(adv.adv_logits, y)
        good.append(
            {"eps": eps, "attack": "fgsm", "error_rate": error_rate, "mean_confidence_misclassified": confidence}
        )
        sizes.append({"eps": eps, **perturbation_stats(x, adv.x_adv, clean_ok & adv.success)})
        outcomes.append({"eps": eps, **outcome_counts(clean, adv.adv_logits, y, cm)})
        if eps == 0.1:
            gallery = gallery_items(x, adv.x_adv, y, clean, adv.adv_logits, class_names=names, attack="fgsm", eps=eps)
    found = broken_at[broken_at.isfinite()]
    report = {
        "schema": "feint.audit/1",
        "feint_version": "0.1.0",
        "created": "2024-01-01T00:00:00",
        "git_revision": None,
        "model": {"name": "lenet", "parameters": sum(p.numel() for p in model.parameters()), "description": "LeNet"},
        "data": {**data.info.to_dict(), "n": n, "split": "test"},
        "settings": {"preset": "test", "norm": "inf", "eps": EPS, "seed": 0, "attacks": {"fgsm": {"eps": "grid"}}},
        "clean_accuracy": float(clean_ok.float().mean()),
        "eps": EPS,
        "attacks": {"fgsm": {"kind": "white-box", "accuracy": fgsm_acc, "queries": 4 * n, "seconds": 0.1}},
        "baselines": {"noise": {"accuracy": noise_acc}},
        "worst_case": {"accuracy": worst_acc, "attack_breaking": {"fgsm": int(found.numel())}},
        "goodfellow": good,
        "per_class": {"class_names": names, "clean": per_class_accuracy(clean_ok, y, 10), "robust": robust},
        "perturbation_sizes": sizes,
        "min_norm": {
            "attack": "fgsm grid",
            "norm": "inf",
            "median": float(found.median()),
            "distances_quantiles": {str(q): float(found.quantile(q)) for q in (0.1, 0.25, 0.5, 0.75, 0.9)},
        },
        "outcomes": outcomes,
        "checks": [
            {"name": "iterative beats single-step", "status": "pass", "detail": "no iterative attack in this test"},
            {"name": "noise baseline", "status": "warn", "detail": "noise & FGSM < 2"},
            {"name": "unbounded attack", "status": "fail", "detail": "did not reach 100%"},
        ],
        "timings": {"total_seconds": 1.5, "per_attack": {"fgsm": 0.1}},
    }
    return json.loads(json.dumps(json_safe(report))), gallery  # as D writes it: through JSON


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for key, value in attrs:
            self.attrs.append((tag, key, value or ""))
            if key == "id":
                self.ids.add(value or "")


def parse(text: str) -> Collector:
    parser = Collector()
    parser.feed(text)
    parser.close()
    return parser


Built = tuple[dict[str, Any], list[GalleryItem]]


@pytest.fixture(scope="module")
def built(lenet_digits: nn.Module, digits_test: Dataset) -> Built:
    return build_report(lenet_digits, digits_test)


@pytest.fixture(scope="module")
def page(built: Built) -> str:
    return render_report_html(*built)


def test_report_has_every_section_and_no_external_resource(built: Built, page: str) -> None:
    report, gallery = built
    doc = parse(page)
    assert set(SECTIONS) <= doc.ids
    assert "script" not in doc.tags and "link" not in doc.tags
    for tag, key, value in doc.attrs:
        if key in ("src", "href"):
            assert value.startswith(("data:image/png;base64,", "#")), (tag, value[:40])
    assert "@import" not in page and "url(" not in page
    images = [v for _, k, v in doc.attrs if k == "src"]
    assert len(gallery) > 0 and len(images) >= 3 * len(gallery) + 4  # plots + three tiles per example
    assert f"{100 * report['clean_accuracy']:.1f}%" in page
    for status in ("PASS", "WARN", "FAIL"):
        assert f">{status}</span>" in page


def test_gallery_tiles_are_upscaled_pngs(page: str) -> None:
    doc = parse(page)
    tiles = [v for t, k, v in doc.attrs if t == "img" and k == "src"][-3:]
    for uri in tiles:
        png = base64.b64decode(uri.split(",", 1)[1])
        width, height = struct.unpack(">II", png[16:24])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert width == height and width >= 8 * 8  # 8x8 digits repeated at least 8 times


def test_user_strings_are_escaped(built: Built) -> None:
    report, gallery = copy.deepcopy(built)
    report["model"]["name"] = EVIL
    report["checks"][0]["detail"] = EVIL
    report["attacks"][EVIL] = report["attacks"]["fgsm"]
    page = render_report_html(report, gallery)
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "script" not in parse(page).tags


def test_report_tolerates_missing_optional_parts(built: Built) -> None:
    report = copy.deepcopy(built[0])
    report.update(min_norm=None, outcomes=[], checks=[], goodfellow=[], perturbation_sizes=[], per_class=None)
    page = render_report_html(report, [])
    assert set(SECTIONS) <= parse(page).ids
    assert "No minimum-norm attack ran" in page
    assert "No examples to show" in page
    bare = render_report_html({"schema": "feint.audit/1"}, [])
    assert "Robustness audit" in bare


def test_write_report_html_is_atomic_and_checks_schema(built: Built, page: str, tmp_path: Path) -> None:
    report, gallery = built
    path = write_report_html(report, gallery, tmp_path / "out" / "report.html")
    assert path.read_text(encoding="utf-8") == page
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
    with pytest.raises(InputError, match="schema"):
        render_report_html({**report, "schema": "other/2"}, gallery)


def test_gallery_items_pick_fooled_inputs_worst_first(built: Built) -> None:
    gallery = built[1]
    worst = [g for g in gallery if g.kind == "worst"]
    assert worst and [g.adv_conf for g in worst] == sorted((g.adv_conf for g in worst), reverse=True)
    for item in gallery:
        assert item.label == item.clean_pred != item.adv_pred
        assert item.image.shape == (1, 8, 8) and item.image.min() >= 0 and item.adversarial.max() <= 1
        assert np.abs(item.perturbation).max() <= 0.1 + 1e-5


def test_perturbation_image_is_grey_at_zero_and_fills_the_range() -> None:
    delta = np.array([[[0.0, 0.02], [-0.04, 0.01]]])
    image, amplification = perturbation_image(delta)
    assert image[0, 0, 0] == pytest.approx(0.5)
    assert image.min() == pytest.approx(0.0) and amplification == pytest.approx(12.5)


def test_an_escalated_audit_keeps_the_worst_case_on_the_page(built: Built) -> None:
    """Many attacks (an escalated audit runs a dozen) add rows to the accuracy table, not columns:
    it stays one column per eps, the worst case its last (bold) row."""
    report, gallery = copy.deepcopy(built)
    fgsm_row = report["attacks"]["fgsm"]
    report["attacks"].update({f"rung {k}": copy.deepcopy(fgsm_row) for k in range(12)})
    page = render_report_html(report, gallery)
    accuracy = page[page.index('id="accuracy"') : page.index("<h3>Attacks</h3>")]
    head = accuracy[accuracy.index("<thead>") : accuracy.index("</thead>")]
    assert head.count("</th>") == 1 + len(EPS) and "eps 0.05" in head
    rows = accuracy[accuracy.index("<tbody>") :].split("<tr")[1:]
    assert len(rows) == 13 + 2 and "<b>worst case</b>" in rows[-1]  # 13 attacks, noise, worst case


def test_plot_series_never_look_alike() -> None:
    from feint.report.plots import series_style

    looks = [tuple(sorted(series_style(i).items())) for i in range(28)]
    assert len(set(looks)) == 28
    assert len({(s["color"], s["ls"]) for s in map(series_style, range(28))}) == 28


def test_a_label_only_audit_shows_no_confidence(built: Built) -> None:
    report, gallery = copy.deepcopy(built)
    assert "mean confidence of the misclassified" in render_report_html(report, gallery)
    report["access"] = {"level": "labels", "note": "served labels", "white_box_attacks": False}
    page = render_report_html(report, gallery)
    assert "mean confidence of the misclassified" not in page and "confidence is never revealed" in page
    assert 'id="outcomes"' not in page  # its runner-up rule needs scores
    assert 'id="goodfellow"' in page and "error rate" in page


def test_a_preset_without_a_ladder_says_so(built: Built) -> None:
    report, gallery = copy.deepcopy(built)
    report["escalation"] = {"escalated": False, "gain_threshold": 0.0, "reasons": [], "rungs": []}
    report["checks"] = []
    page = render_report_html(report, gallery)
    assert "fewer than 0.0%" not in page and "this preset has no escalation ladder" in page
