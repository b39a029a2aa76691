"""reportgen: an offline static site for entropy-experiment results trees."""

__version__ = "0.1.0"
