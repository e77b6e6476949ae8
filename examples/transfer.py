r"""Transferability: adversarial inputs crafted on one model fool another (Papernot et al.
2016), between two models and across learning techniques.

`feint.transfer` crafts with iterative FGSM on a white-box source for several step
counts T and measures on a target seen only through its labels. `feint.transfer_matrix`
trains every technique (a DNN, logistic regression, an SVM, a decision tree, k-NN, an
ensemble) on two disjoint halves of the training data, crafts on one half's models and
measures on both. The command line:

    feint transfer --source runs/lenet --target runs/mlp --data digits \
        --eps 0.1,0.2,0.3 --out transfer/
    feint transfer --matrix --data digits --eps 0.3 --out matrix/

Run: `python examples/transfer.py` (about 40 s; `--small` for the tests' size).
"""

import sys

import feint
from feint.capabilities.transfer.techniques import TechniqueSettings
from feint.oracles import as_oracle

small = "--small" in sys.argv
train, test = feint.load("digits", "train"), feint.load("digits", "test")
epochs = 3 if small else 10
source = feint.train("lenet", train, test, epochs=epochs, progress=False).model
target = feint.train("mlp", train, test, epochs=epochs, seed=1, progress=False).model

# crafted white-box on the source, measured on the target through its labels only
labels_only = as_oracle(target, access="labels")
x, y = test.x, test.y
pair = feint.transfer(source, labels_only, x, y, steps=[1, 5], eps=[0.1, 0.3],
                      out="transfer-example")  # fmt: skip
print(pair.summary())

# every technique trained on two disjoint halves of the training data
techniques = ["dnn", "lr", "dt"] if small else ["dnn", "lr", "svm", "dt", "knn", "ens"]
settings = TechniqueSettings(dnn_epochs=3, substitute_epochs=5) if small else None
matrix = feint.transfer_matrix(train, test, techniques=techniques, eps=0.3,
                               settings=settings, out="matrix-example")  # fmt: skip
print(matrix.summary())

p = pair.to_dict()
fooled = 1 - p["curves"][0]["target_accuracy"][-1]  # T = 1 (FGSM), eps 0.3
noise = 1 - p["noise"]["target_accuracy"][-1]
assert fooled > noise + 0.2, "crafted on the source, they fool the target far more"
rates = matrix.to_dict()["disjoint_halves"]["rates"]
across = [v for i, row in enumerate(rates) for j, v in enumerate(row) if i != j]
assert max(across) > 0.3, "some technique's adversarial inputs fool another technique"
