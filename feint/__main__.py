"""``python -m feint`` runs the command line."""

from feint.cli import main

main()
