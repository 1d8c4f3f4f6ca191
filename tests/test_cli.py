"""The `nis integrate` command: the JSON contract, summaries and errors on bad input."""

import json
import subprocess
import sys

import pytest

from nis.cli import main

CONTRACT = {
    "process", "method", "fallback_reason", "cross_section_pb", "error_pb", "unweighting_efficiency",
    "overweight_fraction", "n_integrand_calls", "n_channels", "wall_seconds", "device", "seed",
}

CONFIG = """process: gauss2
integrand: {function: gaussian, dims: 2}
flow: {bins: 8, hidden: 16, layers: 1}
training: {calls: 10000, batch_size: 1000, buffered_steps: 1}
integration: {calls: 10000, iterations: 5, validation_calls: 4000}
"""


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "gauss2.yaml"
    p.write_text(CONFIG)
    return p


def test_json_contract_and_events(config, tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["integrate", str(config), "--seed", "3", "--json", str(out), "--events", "500",
                 "--events-out", str(tmp_path / "ev.npz")])
    assert code == 0
    r = json.loads(out.read_text())
    assert CONTRACT <= set(r)
    assert r["process"] == "gauss2" and r["seed"] == 3 and r["n_channels"] == 1
    assert r["method"] in ("nis", "vegas")
    assert abs(r["cross_section_pb"] - r["exact"]) < 5 * r["error_pb"]
    assert 0 < r["unweighting_efficiency"] <= 1
    assert r["n_integrand_calls"] >= 10000 + 10000 + r["event_generation_calls"]
    import numpy as np

    ev = np.load(tmp_path / "ev.npz")
    assert ev["u"].shape == (500, 2) and ((ev["u"] >= 0) & (ev["u"] <= 1)).all()
    assert (tmp_path / "gauss2.nis.pt").exists()  # the default checkpoint
    text = capsys.readouterr().out
    assert "integral" in text and "unweighting eff." in text


def test_resume_from_checkpoint(config, tmp_path):
    assert main(["integrate", str(config), "--quiet", "--checkpoint", "a.pt", "--json", "a.json"]) == 0
    assert main(["integrate", str(config), "--quiet", "--resume", "a.pt", "--json", "b.json", "--checkpoint", "none"]) == 0
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    assert b["training"]["steps"] == a["training"]["steps"]  # nothing left to train


@pytest.mark.parametrize(
    "args, message",
    [
        (["--calls", "0"], "must be a positive whole number"),
        (["--calls", "-10"], "must be a positive whole number"),
        (["--lhe", "x.lhe"], "no particles"),
        (["--hdf5", "x.h5", "--events", "5"], "no particles"),
        (["--device", "cuda:7"] , "CUDA"),
    ],
)
def test_bad_options(config, capsys, args, message):
    with pytest.raises(SystemExit) if "--calls" in args else _nothing():
        code = main(["integrate", str(config), "--quiet", *args])
        assert code == 2
    assert message in capsys.readouterr().err


def test_bad_config_fails_before_work(tmp_path, capsys):
    p = tmp_path / "bad.yaml"
    p.write_text("process: x\nintegrand: {function: camell, dims: 2}\n")
    assert main(["integrate", str(p), "--json", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err
    assert "camell" in err and "camel" in err
    assert not (tmp_path / "r.json").exists()
    p.write_text("process: x\nintegrand: {function: gaussian, dims: 0}\n")
    assert main(["integrate", str(p)]) == 2
    assert "dims" in capsys.readouterr().err


def test_console_script_runs():
    done = subprocess.run([sys.executable, "-m", "nis.cli", "integrate", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--json" in done.stdout


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_nis_imports_from_any_directory(tmp_path):
    """Python <= 3.12 has a stdlib module 'nis'; the installed start-up hook must see past it."""
    code = "import nis.cli, nis.flows, nis.integrator; print(nis.__file__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("__init__.py")


def test_import_hook_ignores_other_names():
    import _nis_import_fix

    finder = _nis_import_fix._PackageFirst()
    assert finder.find_spec("json") is None
    assert finder.find_spec("nis.cli", path=["x"]) is None  # submodules: the package's own path
    spec = finder.find_spec("nis")
    assert spec is not None and spec.submodule_search_locations is not None


def test_hdf5_event_file_of_a_process(tmp_path, monkeypatch):
    """--hdf5 writes the final state in the lab frame with the run's settings (nis.events.hdf5)."""
    from pathlib import Path

    from nis.events.hdf5 import read_event_file

    monkeypatch.chdir(tmp_path)
    example = Path(__file__).resolve().parents[1] / "examples" / "ee_mumu.yaml"
    assert main(["integrate", str(example), "--quiet", "--calls", "8000", "--events", "200", "--hdf5", "ev.h5",
                 "--checkpoint", "none", "--json", "r.json"]) == 0
    ev, r = read_event_file("ev.h5"), json.loads((tmp_path / "r.json").read_text())
    assert ev.labels == ["mu+", "mu-"] and ev.momenta.shape == (200, 2, 4) and r["hdf5"] == "ev.h5"
    import numpy as np

    total = ev.momenta.sum(axis=1)
    assert np.allclose(total, [91.188, 0, 0, 0], atol=1e-8)  # the e+ e- centre of mass
    assert ev.cross_section_pb == r["cross_section_pb"] and ev.generator["seed"] == r["seed"]
    assert ev.generator["integrand"]["matrix_element"] == "e+ e- -> mu+ mu-"
    assert main(["integrate", str(example), "--quiet", "--hdf5", "x.h5"]) == 2  # needs --events


def test_partial_unweighting(config, tmp_path, capsys):
    """--overweight EPS: events against the w_max that leaves EPS of sigma overweight."""
    assert main(["integrate", str(config), "--quiet", "--events", "2000", "--overweight", "0.05", "--events-out",
                 "ev.npz", "--json", "r.json", "--checkpoint", "none"]) == 0
    r = json.loads((tmp_path / "r.json").read_text())
    assert abs(r["event_overweight_fraction"] - 0.05) < 0.005
    import numpy as np

    w = np.load(tmp_path / "ev.npz")["weight"]
    assert (w >= 1).all() and (w > 1).any()  # overweight events keep |w|/w_max > 1
    assert main(["integrate", str(config), "--quiet", "--events", "10", "--overweight", "1.5"]) == 2
    assert "--overweight must lie in (0, 1)" in capsys.readouterr().err
