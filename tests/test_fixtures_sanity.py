import torch


def test_fixture_models_are_accurate(lenet_digits, softmax_digits, digits_test):
    for model in (lenet_digits, softmax_digits):
        with torch.no_grad():
            acc = (model(digits_test.x).argmax(1) == digits_test.y).float().mean()
        assert acc > 0.93
