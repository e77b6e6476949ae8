"""``feint serve``: any model feint can load, behind the Open Inference Protocol (KServe v2).

:func:`~feint.server.start.serve` (``feint.serve`` in Python, what the command runs) checks the
settings, tries the port and loads and probes the model;
:func:`~feint.server.app.create_app` builds the FastAPI application for a
:class:`~feint.server.served.Served` model; :func:`~feint.server.run.serve_app` binds the port first
(a busy port is one clear error) and runs uvicorn until SIGTERM or Ctrl-C.
"""
