"""The robustness audit: the public :func:`~feint.capabilities.audit.run.audit`, its checks, presets, escalation ladder, BPDA/EOT, resumable state, report and page."""
