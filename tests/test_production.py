"""Portable samplers and generation from them: the artifact, its refusals, the seed streams, and
the fan-out over Dask workers (identical to one process, robust to a killed worker)."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest

from nis.production.artifact import ArtifactError, load_artifact, read_manifest, stream_seed
from nis.production.generate import generate_local, local_cluster, merge, plan, run_job


@pytest.fixture(scope="module")
def sampler(tmp_path_factory, dy_run):
    from nis.cli import main

    d = tmp_path_factory.mktemp("sampler")
    (d / "dy.json").write_text(json.dumps(dy_run))
    out = d / "dy_sampler"
    assert main(["integrate", str(d / "dy.json"), "--save", str(out), "--quiet", "--checkpoint", "none",
                 "--json", str(d / "result.json")]) == 0
    return out


def test_the_sampler_holds_what_generation_needs(sampler, dy_run):
    m = read_manifest(sampler)
    result = json.loads((sampler.parent / "result.json").read_text())
    assert m["process"] == "dy" and m["config"]["integrand"] == dy_run["integrand"]
    assert m["cross_section_pb"] == result["cross_section_pb"] and m["w_max"] == result["w_max"]
    assert m["method"] == result["method"] and "chunk maxima" in m["w_max_estimator"]
    assert m["matrix_element"] == {"matrix_element": "p p -> mu+ mu-"} and "SeedSequence" in m["seed_policy"]
    integ, _ = load_artifact(sampler)
    assert integ.integrand.name and integ.optimizer is None


def test_another_version_or_process_is_refused_with_the_difference(sampler, tmp_path, dy_run):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(sampler, copy)
    m = json.loads((copy / "manifest.json").read_text())
    m["versions"]["nis"] = "0.0.1"
    (copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="made by nis 0.0.1"):
        load_artifact(copy)
    changed = {**dy_run["integrand"], "mass_window": [60, 120]}
    with pytest.raises(ArtifactError, match=r"integrand.mass_window: \[66, 116\] in the sampler, \[60, 120\] now"):
        load_artifact(sampler, integrand=changed)
    with pytest.raises(ArtifactError, match="not a nis sampler"):
        load_artifact(tmp_path / "nothing")


def test_seed_streams_are_distinct_and_reproducible():
    seeds = {stream_seed(s, j) for s in range(20) for j in range(50)}
    assert len(seeds) == 1000 and all(0 <= x < 2**63 for x in seeds)
    assert stream_seed(7, 3) == stream_seed(7, 3)
    assert plan(25_001, 5_000) == [4167, 4167, 4167, 4167, 4167, 4166] and sum(plan(10, 3)) == 10


def test_generation_is_reproducible_unweighted_unbiased_and_without_duplicates(sampler):
    a = generate_local(sampler, 6000, seed=5, job_events=2000, progress=False)
    b = generate_local(sampler, 6000, seed=5, job_events=2000, progress=False)
    c = generate_local(sampler, 6000, seed=6, job_events=2000, progress=False)
    assert a["jobs"] == 3 and len(a["weight"]) == 6000
    assert np.array_equal(a["u"].numpy(), b["u"].numpy()) and not np.array_equal(a["u"].numpy(), c["u"].numpy())
    assert len(np.unique(a["u"].numpy(), axis=0)) == 6000  # three jobs, three independent streams
    w = a["weight"].numpy()
    assert np.all(np.abs(w) >= 1.0) and np.mean(np.abs(w) > 1.0) < 0.05  # unweighted (a few overweight events)
    m = read_manifest(sampler)
    pull = (a["cross_section_pb"] - m["cross_section_pb"]) / np.hypot(a["error_pb"], m["error_pb"])
    assert abs(pull) < 4, (a["cross_section_pb"], a["error_pb"], m["cross_section_pb"], m["error_pb"])


def test_two_dask_workers_give_the_single_process_sample(sampler, tmp_path, capsys):
    pytest.importorskip("distributed")
    from nis.cli import main

    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    assert main(["generate", str(sampler), "--events", "4000", "--seed", "9", "--job-events", "1000",
                 "--events-out", str(one), "--quiet"]) == 0
    assert main(["generate", str(sampler), "--events", "4000", "--seed", "9", "--job-events", "1000",
                 "--events-out", str(two), "--workers", "2", "--quiet", "--json", str(tmp_path / "s.json")]) == 0
    a, b = np.load(one), np.load(two)
    assert np.array_equal(a["u"], b["u"]) and np.array_equal(a["weight"], b["weight"])
    assert json.loads((tmp_path / "s.json").read_text())["workers"] == 2


def test_a_killed_worker_loses_and_duplicates_nothing(sampler):
    """Four jobs on two worker processes; the worker that did not finish the first job is killed
    then (whatever it was running, and the results it held, are lost with it). Dask reruns them
    on the other; the merged sample equals the one-process sample exactly."""
    distributed = pytest.importorskip("distributed")
    sizes = plan(4000, 1000)
    with local_cluster(2) as cluster, distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        futures = [client.submit(run_job, str(sampler), j, n, 11, key=f"job-{j}", retries=2, pure=False)
                   for j, n in enumerate(sizes)]
        first = next(distributed.as_completed(futures))
        done_on = client.who_has(first)[first.key][0]
        victim = next(addr for addr in pids if addr != done_on)  # the one still working
        os.kill(pids[victim], signal.SIGKILL)
        results = [f.result() for f in futures]
    merged = merge(results)
    alone = generate_local(sampler, 4000, seed=11, job_events=1000, progress=False)
    assert len(merged["weight"]) == 4000
    assert np.array_equal(merged["u"].numpy(), alone["u"].numpy())
    assert merged["cross_section_pb"] == pytest.approx(alone["cross_section_pb"], rel=1e-12)


def test_bad_generate_options_are_named(sampler, tmp_path, capsys, dy_run):
    from nis.cli import main

    assert main(["generate", str(sampler), "--events", "10", "--workers", "2", "--scheduler", "tcp://x:1"]) == 2
    assert "not both" in capsys.readouterr().err
    cfg = tmp_path / "other.json"
    cfg.write_text(json.dumps({**dy_run, "integrand": {**dy_run["integrand"], "scale": 50.0}}))
    assert main(["generate", str(sampler), "--events", "10", "--config", str(cfg)]) == 2
    assert "integrand.scale: 91.1876 in the sampler, 50.0 now" in capsys.readouterr().err


def test_a_worker_that_cannot_load_the_sampler_stops_the_run_with_its_error(sampler, tmp_path):
    import shutil

    pytest.importorskip("distributed")
    from nis.production.generate import GenerationError, generate_distributed

    broken = tmp_path / "broken"
    shutil.copytree(sampler, broken)
    (broken / "sampler.pt").write_bytes(b"not a torch file")
    with pytest.raises(GenerationError, match=r"job nis-job-1-\d+ failed 3 times; the last error: "):
        generate_distributed(broken, 200, seed=1, workers=1, job_events=100, progress=False)
