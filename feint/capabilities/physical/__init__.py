"""Physical-world robustness: destruction rates of adversarial examples through the print-and-photo pipeline (Kurakin et al. 2017), report and page."""
