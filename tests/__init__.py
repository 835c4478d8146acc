"""tenrec's tests; a package so that helpers (tests/ovs_vxlan.py) import as tests.X."""
