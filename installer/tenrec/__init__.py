"""tenrec: lays a real OpenStack cloud onto an operator's machines."""

__version__ = "0.1.0"
