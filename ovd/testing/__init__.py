"""Peers for tests and benchmarks: another library's model configured as the same model as an ovd config
(:mod:`.glip`). Generated test data and the tiny text models are in :mod:`ovd.data.synthetic`."""
