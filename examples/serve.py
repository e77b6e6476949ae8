r"""Serve a model over HTTP (the Open Inference Protocol, KServe v2) and attack it through
the API, seeing only its labels.

`feint serve` answers `/v2/models/NAME/infer` like Triton, KServe or MLServer (FastAPI +
uvicorn); `--output label` reveals only the decision. Any feint command and
`feint.models.resolve` take the URL as a model: an oracle that counts every row it
sends. HopSkipJump (Chen et al. 2020) needs only labels. The command line:

    feint serve --model runs/lenet --port 8080 --name lenet --output label &
    URL=http://127.0.0.1:8080/v2/models/lenet
    feint attack --model $URL --data digits --attack hopskipjump --norm inf --eps 0.3 \
        --queries-per-input 2000

Run: `python examples/serve.py` (about 30 s; `--small` for the tests' size).
"""

import socket
import subprocess
import sys
import time

import httpx

import feint
from feint.attacks import hopskipjump
from feint.models import resolve

small = "--small" in sys.argv
train, test = feint.load("digits", "train"), feint.load("digits", "test")
epochs = 3 if small else 10
feint.train("lenet", train, test, epochs=epochs, progress=False,
            out="runs/served", overwrite=True)  # fmt: skip

with socket.socket() as s:  # a free port
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
command = [sys.executable, "-m", "feint", "serve", "--model", "runs/served",
           "--port", str(port), "--name", "lenet", "--output", "label"]  # fmt: skip
server = subprocess.Popen(command)
try:
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):  # wait up to 60 s for the server to load the model
        try:
            if httpx.get(f"{url}/v2/health/ready").status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    api = resolve(f"{url}/v2/models/lenet")  # an oracle that counts every row it sends
    print(api.describe())
    n = 20 if small else 100
    x, y = test.x[:n], test.y[:n]
    budget = 300 if small else 1000  # queries per input
    result = hopskipjump(api.oracle, x, y, eps=0.3, norm="inf", max_queries=budget)
    clean = float((api.oracle.labels(x) == y).float().mean())
    print(f"through HTTP, labels only: clean accuracy {clean:.3f}, "
          f"under HopSkipJump (Linf 0.3) {result.accuracy:.3f}")  # fmt: skip
    print(f"queries: {result.queries}, rows the server answered: {api.oracle.rows_sent}")
    assert result.access == "labels", "the API revealed labels only"
    assert result.accuracy < clean - 0.3, "the attack fools the model through its API"
finally:
    server.terminate()
    server.wait(timeout=30)
