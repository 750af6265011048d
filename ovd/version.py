"""The ovd package version (read by setup.cfg and reported in run records)."""
__version__ = '0.1.0'
