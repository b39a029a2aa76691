"""Page functions: pure, from analysed inputs to ``PageOutput`` (files and record).

Imports nothing: a no-op build imports ``pages.paths`` and ``pages.assets`` alone.
"""
