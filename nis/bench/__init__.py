"""Benchmarks: nis against its peers at the same matrix-element budget and seeds.

``nis bench SUITE`` (see :mod:`nis.bench.suites` for the suites, :mod:`nis.bench.run` for how a
run is scored, :mod:`nis.bench.report` for the table and plots). The peers: VEGAS on nis'
channels, nis with fixed channel weights, MadNIS (:mod:`nis.bench.peers`) and the Sherpa
executable alone (:mod:`nis.bench.sherpa_native`).
"""
