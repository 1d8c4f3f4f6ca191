"""A config that cannot run fails before any work, naming the key and the fix."""

import pytest

from nis.config import ConfigError, IntegrationConfig, TrainingConfig, load_config


def write(tmp_path, text):
    p = tmp_path / "run.yaml"
    p.write_text(text)
    return p


def test_examples_load(examples):
    kinds = set()
    for path in examples:
        cfg = load_config(path)
        kind = "function" if "function" in cfg.integrand else "matrix_element"
        assert cfg.process and cfg.integrand[kind]
        kinds.add(kind)
    assert kinds == {"function", "matrix_element"}  # test functions and processes both ship


def test_whole_numbers_in_exponent_notation(tmp_path):
    cfg = load_config(write(tmp_path, "process: g\nintegrand: {function: gaussian, dims: 2}\ntraining: {calls: 1e6}\n"))
    assert cfg.training.calls == 1_000_000 and isinstance(cfg.training.calls, int)


@pytest.mark.parametrize(
    "text, message",
    [
        ("process: g\nintegrand: {function: gaussian}\ntraining: {cals: 10}\n", "unknown key 'cals' in training; did you mean 'calls'"),
        ("process: g\nintegrand: {function: gaussian}\nflow: {bins: many}\n", "flow.bins must be a whole number"),
        ("process: g\nintegrand: {function: gaussian}\ntraining: {calls: -5}\n", "training.calls must not be negative"),
        ("process: g\nintegrand: {function: gaussian}\ntraining: {batch_size: 0}\n", "training.batch_size must be positive"),
        ("process: g\nintegrand: {function: gaussian}\ntraining: {loss: hellinger}\n", "training.loss must be one of"),
        ("integrand: {function: gaussian}\n", "missing required key(s): process"),
        ("process: g\nintegrand: gaussian\n", "integrand must be a mapping"),
        ("process: g\nintegrand: {function: gaussian}\nintegration: {calls: 5, iterations: 10}\n", "at least integration.iterations"),
        ("process: [g\n", "not valid YAML"),
        ("process: p\nintegrand: {matrix_element: 'e+ e- -> mu+ mu-'}\n", "integrand is missing required key(s): sqrt_s"),
        ("process: p\nintegrand: {matrix_element: 'e+ e- mu+ mu-', sqrt_s: 91}\n", "must read like"),
        ("process: p\nintegrand: {matrix_element: 'e+ e- -> mu+ mu-', sqrt_s: -1}\n", "sqrt_s must be positive"),
        ("process: p\nintegrand: {matrix_element: 'e+ e- -> mu+ mu-', sqrt_s: 91, sqrts: 3}\n", "did you mean 'sqrt_s'"),
        ("process: p\nintegrand: {matrix_element: 'e+ e- -> q q~', sqrt_s: 91, flavours: [d, t]}\n", "unknown quark"),
        ("process: p\nintegrand: {matrix_element: 'e+ e- -> q q~ g', sqrt_s: 91, cuts: {y_cut: 2}}\n", "y_cut"),
        ("process: p\nintegrand: {matrix_element: 'e+ e- -> q q~ g', sqrt_s: 91, cuts: {ycut: 0.1}}\n", "unknown cut"),
    ],
)
def test_bad_configs(tmp_path, text, message):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert message in str(err.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_dataclass_checks():
    with pytest.raises(ConfigError, match="vegas_fraction"):
        TrainingConfig(vegas_fraction=1.5)
    with pytest.raises(ConfigError, match="fallback_passes"):
        TrainingConfig(fallback_passes=0)
    assert TrainingConfig().fallback_memory(3) == 0  # one pass keeps no points
    assert TrainingConfig(calls=10_000_000, fallback_passes=3).fallback_memory(4) == 250_000
    with pytest.raises(ConfigError, match="fallback"):
        IntegrationConfig(fallback="sometimes")
