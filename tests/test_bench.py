"""The benchmark suite (nis bench): its suites stay valid, native Sherpa is scored like every other
method, the smoke suite runs end to end (so the suite cannot rot) and repeats itself exactly."""

import json
import math

import numpy as np
import pytest

from nis.bench.report import disagreeing_runs, markdown, summarise
from nis.bench.run import TIMING_KEYS
from nis.bench.sherpa_native import lhe_weights, native_card
from nis.bench.suites import ME_VARIANTS, METHODS, SHERPA_METHODS, SUITES, get_suite, me_variant
from nis.bridge.sherpa_install import sherpa_executable
from nis.cli import main
from nis.config import RunConfig, from_dict

HAVE_SHERPA = sherpa_executable() is not None


@pytest.mark.parametrize("suite", list(SUITES))
def test_every_case_of_every_suite_is_a_valid_run_config(suite):
    """Each case's config (example plus changes) passes the config checks; its methods exist, and a
    Sherpa method only where the case says how Sherpa runs it."""
    s = get_suite(suite)
    assert s.cases and s.train_calls > 0 and s.eval_calls > 1 and s.seeds >= 3
    for case in s.cases:
        from_dict(RunConfig, case.run_config(), case.name)
        assert set(case.methods) <= set(METHODS)
        assert case.sherpa_card or not set(case.methods) & set(SHERPA_METHODS)


def test_matrix_element_variants_repeat_their_case_with_another_provider():
    """ee_3jets_sherpa_me, pp_z_3j_builtin_me: the case before the suffix with only the provider changed."""
    variants = 0
    for suite in SUITES.values():
        cases = {c.name: c for c in suite.cases}
        for case in suite.cases:
            suffix = next((x for x in ME_VARIANTS if case.name.endswith(x)), None)
            if suffix is None:
                assert me_variant(case.name) is None
                continue
            variants += 1
            base = cases[case.name[: -len(suffix)]]
            a, b = base.run_config()["integrand"], case.run_config()["integrand"]
            provider = {"Sherpa ME": "sherpa", "built-in ME": "builtin"}[me_variant(case.name)]
            assert b.pop("provider") == provider != a.pop("provider", "builtin")
            assert a == b and base.jets == case.jets
    assert variants == 7


@pytest.mark.parametrize("cases, plotted", [(["pp_z_2j", "pp_z_2j_builtin_me"], {"pp_z_2j"}),
                                             (["pp_z_2j_builtin_me"], {"pp_z_2j_builtin_me"})])
def test_plots_leave_out_matrix_element_variants_unless_the_file_holds_nothing_else(tmp_path, monkeypatch, cases, plotted):
    import nis.bench.report as report

    def eff(case, method):  # told apart by their efficiencies
        return {"vegas": 0.01, "nis": 0.02}[method] * (2 if me_variant(case) else 1)

    rows = [_row(case, m, 0, eff(case, m), jets=2) for case in cases for m in ("vegas", "nis")]
    figures = []
    monkeypatch.setattr(report, "_save", lambda fig, path: figures.append(fig) or path)
    report.plot({"suite": "z-jets"}, rows, tmp_path, "x")
    drawn = {round(line.get_ydata()[0], 6) for line in figures[0].axes[0].lines if len(line.get_ydata())}
    assert drawn == {eff(case, m) for case in plotted for m in ("vegas", "nis")}


def test_unknown_suite_is_named_with_the_choices():
    with pytest.raises(KeyError, match="smoke, ee-jets"):
        get_suite("ee-jet")


def test_suites_cover_the_multiplicities():
    jets = {name: sorted({c.jets for c in s.cases}) for name, s in SUITES.items()}
    assert jets["ee-jets"] == [2, 3, 4, 5]
    assert jets["gg-gluons"] == [2, 3, 4]
    assert jets["w-jets"] == jets["z-jets"] == [0, 1, 2, 3]


def test_lhe_weights_put_back_the_failed_trials(tmp_path):
    """An event with trials = k stands for k - 1 zero-weight points before it."""
    event = "<event trials='{}' muf2='1'>\n 4 1 {} 91.2 -1 0.118\n 11 -1 0 0 0 0 0 0 45 45 0 0 9\n</event>\n"
    text = "<LesHouchesEvents>\n" + "".join(event.format(k, w) for k, w in [(3, 2.5), (1, 1e-3), (2, 7.0)])
    (tmp_path / "w.lhe").write_text(text + "</LesHouchesEvents>\n")
    np.testing.assert_array_equal(lhe_weights(tmp_path / "w.lhe"), [0, 0, 2.5, 1e-3, 0, 7.0])
    (tmp_path / "u.lhe").write_text("<LesHouchesEvents>\n<event>\n</event>\n</LesHouchesEvents>\n")
    with pytest.raises(ValueError, match="weighted mode"):
        lhe_weights(tmp_path / "u.lhe")


def test_native_sherpa_card_has_the_configs_process_and_cuts():
    w2 = next(c for c in get_suite("w-jets").cases if c.jets == 2)
    card = native_card(w2.run_config(), w2.sherpa_card)
    (process,) = card["PROCESSES"]
    assert process == {"901 901 -> -11 12 901 901": {"Order": {"QCD": 2, "EW": 2}}}
    assert ["PT", -11, 20, 13000.0] in card["SELECTORS"] and ["Eta", -11, -2.5, 2.5] in card["SELECTORS"]
    finder = next(s["FastjetFinder"] for s in card["SELECTORS"] if isinstance(s, dict))
    assert finder == {"Algorithm": "antikt", "N": 2, "PTMin": 20, "DR": 0.4, "EtaMax": 6}
    assert set(card["PARTICLE_CONTAINERS"][901]["Flavours"]) == {1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 21}
    assert card["SCALES"] == "VAR{sqr(91.1876)}" and card["PDF_SET"] == "NNPDF31_nnlo_as_0118_mc"
    z0 = next(c for c in get_suite("z-jets").cases if c.jets == 0)
    card = native_card(z0.run_config(), z0.sherpa_card)
    assert list(card["PROCESSES"][0]) == ["901 901 -> -13 13"]
    assert ["Mass", -13, 13, 66, 116] in card["SELECTORS"]
    assert not any(isinstance(s, dict) for s in card["SELECTORS"])  # no jets, no jet finder
    ee = get_suite("ee-jets").cases[2]  # q q~ g g: no four-quark final states, unlike Sherpa's 93 93 93 93
    card = native_card(ee.run_config(), ee.sherpa_card)
    assert card["INTEGRATOR"] == "Default" and "NIS" not in card and card["SIN2THETAW"] == 0.2229
    assert card["PROCESSES"] == [{"11 -11 -> 902 902 21 21": {"Order": {"QCD": 2, "EW": 2}}}]
    assert set(card["PARTICLE_CONTAINERS"][902]["Flavours"]) == {1, -1, 2, -2, 3, -3, 4, -4, 5, -5}


def _row(case, method, seed, eff, jets=3):
    return {"case": case, "jets": jets, "method": method, "seed": seed, "efficiency": eff, "cross_section_pb": 1.0,
            "error_pb": 0.01, "rel_error": 0.01, "rel_std": 1.0, "overweight_fraction": 0.0, "train_calls": 10,
            "eval_calls": 10, "calls_to_events": 1.0, "seconds_to_events": 1.0, "train_seconds": 1.0, "used": method}


def test_summary_takes_medians_over_seeds_and_gains_as_their_ratio():
    rows = [_row("a", "vegas", s, e) for s, e in enumerate([0.1, 0.2, 0.4])]
    rows += [_row("a", "nis", s, e) for s, e in enumerate([0.9, 0.6, 0.3])]
    rows += [_row("b", "nis", 0, 0.5, jets=4)]
    by = {(s["case"], s["method"]): s for s in summarise(rows)}
    nis = by[("a", "nis")]
    assert nis["efficiency"] == 0.6 and (nis["efficiency_min"], nis["efficiency_max"]) == (0.3, 0.9)
    assert nis["gain_vs_vegas"] == pytest.approx(3.0) and by[("a", "vegas")]["gain_vs_vegas"] == 1.0
    assert nis["gain_vs_sherpa"] is None and by[("b", "nis")]["gain_vs_vegas"] is None  # no baseline run
    assert [s["method"] for s in summarise(rows)][:2] == ["vegas", "nis"]  # table order


def test_runs_whose_cross_section_disagrees_are_named():
    """A sampler that misses part of the phase space (Sherpa on Z + 3 jets at 2x10^4 points:
    3.7 +- 1.2 pb against 36) is named beside the table; runs within their errors are not."""
    rows = [{**_row("a", m, s, 0.1), "cross_section_pb": xs, "error_pb": err}
            for m, s, xs, err in [("vegas", 0, 36.0, 4.0), ("nis", 0, 40.0, 5.0), ("sherpa", 0, 3.7, 1.2),
                                  ("sherpa", 1, 47.0, 16.0), ("nis", 1, 37.0, 3.0)]]
    rows.append(_row("b", "nis", 0, 0.5))  # another case: its own median
    bad = disagreeing_runs(rows)
    assert [(r["method"], r["seed"]) for r, _, _ in bad] == [("sherpa", 0)]
    assert bad[0][1] == 37.0 and bad[0][2] == pytest.approx((3.7 - 37.0) / 1.2)  # the median of all five
    meta = {"suite": "x", "description": "d", "command": "c", "device": "cpu", "cpu": "c", "cores": 2, "torch_threads": 1,
            "torch": "t"}
    text = markdown(meta, rows, "x")
    assert "a, `sherpa`, seed 0: 3.7 +- 1.2 pb against the median 37 pb (-28 errors)" in text
    assert "disagrees" not in markdown(meta, rows[:2], "x")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["bench", "ee-jet"], "no benchmark suite 'ee-jet'"),
        (["bench", "smoke", "--methods", "nis", "vegs"], "unknown method(s) ['vegs']"),
        (["bench", "smoke", "--cases", "ee_9jets"], "has no case ['ee_9jets']"),
        (["bench"], "needs a suite name"),
        (["bench", "smoke", "--redo"], "use it with --resume"),
    ],
)
def test_bad_bench_input_gets_a_clear_error(argv, message, capsys, tmp_path):
    assert main(argv + ["--out", str(tmp_path), "--quiet"]) == 2
    assert message in capsys.readouterr().err


def test_bench_on_cuda_without_a_gpu_is_refused(capsys, tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert main(["bench", "smoke", "--device", "cuda", "--out", str(tmp_path)]) == 2
    assert "sees no CUDA GPU" in capsys.readouterr().err


def test_bench_list_names_every_suite(capsys):
    assert main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in SUITES)


def test_smoke_suite_runs_every_method_unbiased_and_repeats_exactly(tmp_path, one_thread):
    """`nis bench smoke`: every method on e+e- -> 3 jets, three seeds; the JSON, the table and both
    plots are written; every method's cross section agrees with the others' (each is unbiased);
    Sherpa's weights rebuilt from its weighted events reproduce its own cross section; a second run
    of seed 0 gives the same numbers (timings aside)."""
    out = tmp_path / "results"
    assert main(["bench", "smoke", "--out", str(out), "--name", "a", "--quiet", "--workdir", str(tmp_path / "w")]) == 0
    for suffix in (".json", ".md", "-efficiency.png", "-gain.png"):
        assert (out / f"a{suffix}").stat().st_size > 0
    record = json.loads((out / "a.json").read_text())
    rows = record["rows"]
    methods = [m for m in get_suite("smoke").cases[0].methods if HAVE_SHERPA or m not in SHERPA_METHODS]
    assert sorted((r["method"], r["seed"]) for r in rows) == sorted((m, s) for m in methods for s in range(3))
    xs = np.array([r["cross_section_pb"] for r in rows])
    err = np.array([r["error_pb"] for r in rows])
    mean = np.sum(xs / err**2) / np.sum(1 / err**2)
    assert np.all(np.abs(xs - mean) < 5 * err), list(zip(xs, err))
    assert abs(mean - 11831) < 0.02 * 11831  # LO Durham 3-jet rate R_3 = 0.29432 x 40197.5 pb (README)
    for r in rows:
        assert 0 < r["efficiency"] <= 1 and r["train_calls"] > 0 and r["eval_calls"] >= 5_000
        assert r["calls_to_events"] == pytest.approx(r["train_calls"] + 1e5 / r["efficiency"])
        if r["method"] == "sherpa":
            assert r["train_calls"] <= 6_000  # stopped at the suite's budget
        if r["method"] in ("vegas", "nis", "nis-fixed-alpha"):
            for stage, total in (("train", r["train_seconds"]), ("eval", r["eval_seconds"])):
                split = r["time_split"][stage]
                assert min(split.values()) >= 0 and sum(split.values()) == pytest.approx(total)
                assert split["matrix_elements"] > 0
        if r["method"] in SHERPA_METHODS:
            x = r["extra"]
            assert abs(r["cross_section_pb"] - x["sherpa_xs_pb"]) < 5 * math.hypot(r["error_pb"], x["sherpa_error_pb"])
    table = (out / "a.md").read_text()
    assert "| ee_3jets | 3 | nis | 3 |" in table

    again = ["--seeds", "1", "--methods", "vegas", "nis", "madnis", "madspace"] + (["sherpa"] if HAVE_SHERPA else [])
    assert main(["bench", "smoke", "--out", str(out), "--name", "b", "--quiet", "--workdir", str(tmp_path / "w2")] + again) == 0
    second = json.loads((out / "b.json").read_text())["rows"]
    assert second
    first = {r["method"]: r for r in rows if r["seed"] == 0}
    for r in second:
        same = {k: v for k, v in first[r["method"]].items() if k not in TIMING_KEYS + ("command",)}
        assert {k: v for k, v in r.items() if k not in TIMING_KEYS + ("command",)} == same, r["method"]


def test_overview_gathers_the_newest_result_of_each_suite(tmp_path, capsys):
    from nis.bench.report import write_results

    meta = {"suite": "gg-gluons", "description": "d", "command": "nis bench gg-gluons", "seeds": 3, "device": "cpu",
            "cpu": "x", "cores": 2, "torch_threads": 1, "torch": "t", "skipped": {}}
    old = [_row("gg_3g", "vegas", 0, 0.1), _row("gg_3g", "nis", 0, 0.1)]
    new = [_row("gg_3g", "vegas", 0, 0.1), _row("gg_3g", "nis", 0, 0.25)]
    write_results(tmp_path, "gg-gluons-2026-01-01", meta, old)
    write_results(tmp_path, "gg-gluons-2026-02-01", meta, new)
    assert main(["bench", "--overview", "--out", str(tmp_path)]) == 0
    table = (tmp_path / "overview.md").read_text()
    assert "| gg-gluons | gg_3g | 3 | 0.25 | - | 0.1 |" in table and "| 2.50 |" in table
    assert "gg-gluons-2026-02-01.json" in table and (tmp_path / "overview.png").stat().st_size > 0
    assert main(["bench", "--overview", "--out", str(tmp_path / "empty")]) == 2
    assert "no suite results" in capsys.readouterr().err


def test_a_failed_run_is_recorded_and_the_suite_goes_on(tmp_path, monkeypatch):
    import nis.bench.run as bench_run

    real = bench_run.run_method

    def flaky(method, *args, **kwargs):
        if method == "madnis":
            raise RuntimeError("madnis is not importable (a broken install)\nmore lines")
        return real(method, *args, **kwargs)

    monkeypatch.setattr(bench_run, "run_method", flaky)
    argv = ["bench", "smoke", "--seeds", "1", "--methods", "vegas", "madnis", "--out", str(tmp_path), "--name", "f", "--quiet"]
    assert main(argv) == 0
    record = json.loads((tmp_path / "f.json").read_text())
    assert [r["method"] for r in record["rows"]] == ["vegas"]
    assert record["meta"]["failed"] == [{"case": "ee_3jets", "method": "madnis", "seed": 0,
                                         "error": "RuntimeError: madnis is not importable (a broken install)"}]
    assert "Failed runs" in (tmp_path / "f.md").read_text()


def test_redo_replaces_the_chosen_rows_and_keeps_the_others(tmp_path, one_thread):
    """After a change to nis, `--resume --redo --methods vegas` runs VEGAS again in place of its
    rows; `--resume` alone keeps every row it finds; the other methods' rows stay either way."""
    argv = ["bench", "smoke", "--seeds", "1", "--eval", "3000", "--out", str(tmp_path), "--name", "r", "--quiet"]
    assert main(argv + ["--methods", "vegas", "nis"]) == 0
    path = tmp_path / "r.json"
    record = json.loads(path.read_text())
    fresh = {r["method"]: r["efficiency"] for r in record["rows"]}
    for r in record["rows"]:
        r["efficiency"] = -1.0  # stands for a number from before the change
    path.write_text(json.dumps(record))
    assert main(argv + ["--methods", "vegas", "--resume"]) == 0
    assert {r["method"]: r["efficiency"] for r in json.loads(path.read_text())["rows"]} == {"vegas": -1.0, "nis": -1.0}
    assert main(argv + ["--methods", "vegas", "--resume", "--redo"]) == 0
    rows = json.loads(path.read_text())["rows"]
    assert sorted(r["method"] for r in rows) == ["nis", "vegas"]
    assert {r["method"]: r["efficiency"] for r in rows} == {"vegas": fresh["vegas"], "nis": -1.0}


@pytest.mark.skipif(not HAVE_SHERPA, reason="Sherpa is not installed")
def test_cases_on_sherpa_matrix_elements_run_in_one_call(tmp_path, one_thread):
    """Sherpa takes one run card per process at a time: a suite call with two cases on Sherpa's
    matrix elements lets go of the first case's before building the second's (both rows land,
    each with its own cross section: e+e- -> 2 jets 40197.5 pb, 3 jets R_3 = 0.29432 of it)."""
    argv = ["bench", "ee-jets", "--cases", "ee_2jets_sherpa_me", "ee_3jets_sherpa_me", "--methods", "vegas",
            "--seeds", "1", "--calls", "3000", "--eval", "3000", "--out", str(tmp_path), "--name", "s", "--quiet"]
    assert main(argv) == 0
    record = json.loads((tmp_path / "s.json").read_text())
    assert record["meta"]["failed"] == []
    rows = {r["case"]: r for r in record["rows"]}
    for case, xs in (("ee_2jets_sherpa_me", 40197.5), ("ee_3jets_sherpa_me", 0.29432 * 40197.5)):
        assert abs(rows[case]["cross_section_pb"] - xs) < 5 * rows[case]["error_pb"], rows[case]
