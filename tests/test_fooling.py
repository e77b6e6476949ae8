"""Fooling images (Nguyen et al. 2015): evolution on scores only, CPPN genomes, gradient ascent."""

from __future__ import annotations

import pytest
import torch

from feint.attacks.fooling import (
    CPPN,
    fool,
    fool_cppn,
    fool_direct,
    fool_gradient,
    load_cppns,
    polynomial_mutation,
    save_cppns,
)
from feint.attacks.fooling.cppn_evolution import CPPNMutation, add_connection, add_node, minimal, mutate, remove_node
from feint.attacks.fooling.direct import DirectEncoding
from feint.errors import InputError
from feint.oracles import ScoreOracle, as_oracle
from feint.oracles.base import QueryBudgetExhausted

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SHAPE = (1, 8, 8)


class CallCounting(ScoreOracle):
    """A score oracle that is not a module, answers probabilities and counts its requests."""

    def __init__(self, model, **kwargs):
        super().__init__(output="probabilities", input_shape=SHAPE, batch_size=10_000, **kwargs)
        self.model, self.calls = model, 0

    def _scores(self, x):
        self.calls += 1
        with torch.no_grad():
            return self.model(x).softmax(1)


@pytest.fixture(scope="module")
def weak_start(lenet_digits):
    """A few generations from a tiny population: room to improve, and fast."""
    oracle = CallCounting(lenet_digits)
    return oracle, fool_direct(oracle, generations=12, population=8, seed=1)


def test_direct_evolution_raises_the_best_confidence_using_scores_only(weak_start):
    oracle, result = weak_start
    history = result.history
    assert history.shape == (13, 10)
    assert (history[1:] >= history[:-1]).all(), "a MAP-Elites champion is only ever replaced by a better one"
    assert (history[-1] - history[0]).max() > 0.2, "some class's best confidence must rise over the generations"
    assert torch.allclose(result.confidence, history[-1], atol=1e-5), "the re-check agrees with the last champions"
    # one batched query per generation, plus the initial population and the final check
    assert oracle.calls == 12 + 2
    assert result.queries == oracle.queries == 8 * 13 + 10


def test_direct_evolution_fools_the_digits_lenet(lenet_digits):
    result = fool_direct(lenet_digits, generations=60, population=50, input_shape=SHAPE, seed=0)
    assert result.fooled(0.99).all(), result.confidence
    assert (result.prediction == result.target).all()
    probs = lenet_digits(result.x).softmax(1)
    assert torch.allclose(probs[result.target, result.target], result.confidence, atol=1e-5)
    assert result.x.min() >= 0 and result.x.max() <= 1


def test_polynomial_mutation_stays_in_bounds_and_follows_its_rate():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(200, 1, 8, 8, generator=gen)
    out = polynomial_mutation(x, rate=0.1, eta=15, bounds=(0.0, 1.0), generator=gen)
    changed = (out != x).float().mean()
    assert 0.08 < changed < 0.12
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(polynomial_mutation(x, rate=0.0, eta=15, bounds=(0.0, 1.0), generator=gen), x)
    encoding = DirectEncoding(SHAPE, rate=0.1, halve_every=50)
    assert [encoding.rate_at(g) for g in (0, 49, 50, 100, 199)] == [0.1, 0.1, 0.05, 0.025, 0.0125]


def test_cppn_genome_round_trips_through_json(tmp_path):
    rng = __import__("numpy").random.default_rng(0)
    genomes = [minimal(1, rng)]
    for _ in range(30):
        genomes.append(mutate(genomes[-1], rng, CPPNMutation(add_node=0.5, add_connection=0.5)))
    genome = genomes[-1]
    assert genome.hidden, "mutations must have grown hidden nodes"
    path = save_cppns(tmp_path / "genomes.json", genomes, shape=SHAPE)
    loaded = load_cppns(path)
    assert loaded == genomes
    assert (loaded[-1].render(28, 28) == genome.render(28, 28)).all(), "a loaded genome draws the same image"


def test_cppn_topology_mutations_keep_the_graph_feed_forward():
    rng = __import__("numpy").random.default_rng(1)
    genome = minimal(3, rng, hidden_nodes=0)
    assert len(genome.connections) == 4 * 3 and not genome.hidden
    grown = add_node(genome, rng)
    assert len(grown.hidden) == 1 and len(grown.connections) == len(genome.connections) + 1
    for _ in range(40):
        grown = add_connection(add_node(grown, rng), rng)
        grown.check()  # raises on a cycle
    assert len(remove_node(grown, rng).hidden) == len(grown.hidden) - 1
    assert grown.render(5, 7).shape == (3, 5, 7)


def test_cppn_evolution_raises_confidence_and_keeps_genomes(lenet_digits):
    oracle = as_oracle(lenet_digits, input_shape=SHAPE)
    result = fool_cppn(oracle, generations=15, population=20, seed=0)
    assert (result.history[-1] - result.history[0]).max() > 0.2
    assert result.genomes is not None and len(result.genomes) == 10
    redrawn = torch.stack([torch.from_numpy(g.render(8, 8)) for g in result.genomes])
    assert torch.allclose(redrawn, result.x, atol=1e-6), "each champion image is its genome's rendering"


def test_gradient_ascent_reaches_high_confidence_on_the_digits_lenet(lenet_digits):
    for start in ("noise", "blank"):
        result = fool_gradient(lenet_digits, input_shape=SHAPE, steps=100, start=start, seed=0)
        assert result.fooled(0.99).all(), (start, result.confidence)
        assert result.history.shape == (101, 10) and result.queries == 100 * 10 + 10 + 10
    smooth = fool_gradient(lenet_digits, input_shape=SHAPE, steps=100, l2=0.01, blur_sigma=0.5, seed=0)
    rough = fool_gradient(lenet_digits, input_shape=SHAPE, steps=100, seed=0)
    tv = lambda x: (x[..., 1:, :] - x[..., :-1, :]).abs().mean()  # noqa: E731
    assert tv(smooth.x) < tv(rough.x), "the blur and L2 regularisers make smoother images"


def test_evolution_needs_scores_and_positive_generations(lenet_digits):
    labels_only = as_oracle(lenet_digits, access="labels", input_shape=SHAPE)
    with pytest.raises(InputError, match="answers only labels, but evolving fooling images needs class scores"):
        fool_direct(labels_only, generations=5)
    with pytest.raises(InputError, match="generations must be an integer >= 1, got 0"):
        fool(lenet_digits, method="direct", generations=0, input_shape=SHAPE)
    with pytest.raises(InputError, match="generations must be an integer >= 1, got -3"):
        fool_cppn(lenet_digits, generations=-3, input_shape=SHAPE)
    with pytest.raises(InputError, match="pass input_shape"):
        fool_direct(lenet_digits, generations=5)
    with pytest.raises(InputError, match="gradient ascent needs a torch module"):
        fool_gradient(as_oracle(lenet_digits, input_shape=SHAPE), input_shape=SHAPE)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="unknown fooling method"):
        fool(lenet_digits, method="annealing", input_shape=SHAPE)


def test_a_query_budget_stops_evolution_with_its_champions(lenet_digits):
    oracle = as_oracle(lenet_digits, input_shape=SHAPE, max_queries=10 * 5 + 10)
    result = fool_direct(oracle, generations=100, population=10, seed=0)
    assert result.stopped == "query budget spent after 4 generations"
    assert oracle.queries == oracle.max_queries and result.generations == 4
    with pytest.raises(QueryBudgetExhausted):
        fool_direct(as_oracle(lenet_digits, input_shape=SHAPE, max_queries=5), generations=3, population=10)
    # max_queries on an oracle built without a budget holds too, and every row reaches that oracle
    unbudgeted = CallCounting(lenet_digits)
    result = fool_cppn(unbudgeted, generations=100, population=10, max_queries=10 * 3 + 10, seed=0)
    assert result.stopped == "query budget spent after 2 generations" and result.queries == unbudgeted.queries == 40


def test_cppn_files_that_are_not_genomes_are_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"format": "feint.cppn/1", "genomes": [{"channels": 1, "hidden": [[5, "tanh"]], "connections": []}]}'
    )
    with pytest.raises(InputError, match="unknown CPPN activation 'tanh'"):
        load_cppns(bad)
    cyclic = CPPN(1, ((5, "sine"), (6, "sine")), ())
    with pytest.raises(InputError, match="cycle"):
        CPPN.from_dict({**cyclic.to_dict(), "connections": [[5, 6, 1.0], [6, 5, 1.0], [6, 4, 1.0]]})
    (tmp_path / "plain.json").write_text("[1, 2]")
    with pytest.raises(InputError, match=r"not a feint\.cppn/1 file"):
        load_cppns(tmp_path / "plain.json")


def test_class_names_of_the_wrong_count_are_refused_before_the_search(lenet_digits, tmp_path):
    import feint

    with pytest.raises(InputError, match="class_names names 3 classes but the model has 10"):
        feint.fool(
            lenet_digits.eval(), generations=10_000, input_shape=SHAPE, class_names=["a", "b", "c"], out=tmp_path / "f"
        )
    assert not (tmp_path / "f").exists()  # refused before anything was written or searched
    scores = as_oracle(lenet_digits, input_shape=SHAPE)  # an oracle learns its count from its first answer
    with pytest.raises(InputError, match="class_names names 2 classes but the model has 10"):
        feint.fool(scores, generations=1, population=4, input_shape=SHAPE, class_names=["a", "b"])
