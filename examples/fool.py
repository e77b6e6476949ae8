"""Fooling images (Nguyen et al. 2015): unrecognisable images a model labels with 99%
confidence.

`feint.fool` evolves one image per class with a directly encoded genome
(`method="direct"`), compositional pattern-producing networks (`"cppn"`) or gradient
ascent (`"gradient"`). The evolutionary methods need only class scores, so the model may
be query-only (ONNX, `.skops`, an HTTP API). The report shows each class's image and
confidence. The command line:

    feint fool --model runs/lenet --method direct --generations 200 --out fool/

Run: `python examples/fool.py` (about 10 s).
"""

import feint

train, test = feint.load("digits", "train"), feint.load("digits", "test")
model = feint.train("lenet", train, test, epochs=10, progress=False).model  # confident

shape = train.info.input_shape  # (1, 8, 8): a module does not say which inputs it takes
report = feint.fool(model, method="direct", generations=200, input_shape=shape,
                    out="fool-example")  # fmt: skip
print(report.summary())

s = report["summary"]
assert s["fooled"] >= s["classes"] - 2, "nearly every class gets a >= 99% fooling image"
print(f"{s['fooled']} of {s['classes']} classes fooled; open fool-example/report.html")
