"""Subcommands of the ``ovd`` CLI, one module each (see :mod:`ovd.cli` for the module protocol)."""
