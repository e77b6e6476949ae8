"""``feint serve``: any model feint can load, behind the Open Inference Protocol (KServe v2).

:func:`~feint.serve.app.create_app` builds the FastAPI application for a
:class:`~feint.serve.served.Served` model; :func:`~feint.serve.run.serve` binds the port first
(a busy port is one clear error) and runs uvicorn until SIGTERM or Ctrl-C.
"""
