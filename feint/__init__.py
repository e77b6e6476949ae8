"""feint: craft, defend against, detect and measure adversarial examples."""

__version__ = "0.1.0"
