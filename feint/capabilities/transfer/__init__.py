"""Transfer: adversarial examples crafted on one model measured on another (pair), and the cross-technique matrix over model families."""
