"""Which node runs which service is said once (playbooks/vars/services.yml): the deploy and
the upgrade read the same lines."""

from __future__ import annotations

from pathlib import Path

import jinja2
import yaml
from ansible.plugins.filter.mathstuff import intersect

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


def services_vars() -> dict:
    return yaml.safe_load((PLAYBOOKS / "vars/services.yml").read_text())


def test_the_deploy_includes_every_service_on_the_nodes_services_yml_names():
    plays = yaml.safe_load((PLAYBOOKS / "site.yml").read_text())
    deploy = next(play for play in plays if "vars/services.yml" in play.get("vars_files", []))
    included = {}
    for task in deploy["tasks"]:
        role = task.get("ansible.builtin.include_role", {})
        if role.get("name", "").startswith("tenrec.cloud.") and "tasks_from" not in role:
            included[role["name"].removeprefix("tenrec.cloud.")] = task.get("when")
    order = services_vars()["tenrec_service_order"]
    assert set(order) <= set(included), f"services the deploy leaves out: {set(order) - set(included)}"
    for service in order:
        assert included[service] == f"tenrec_service_here.{service} | bool", service


def test_each_role_lands_where_the_architecture_puts_it():
    here = services_vars()["tenrec_service_here"]
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["intersect"] = intersect
    everything = ["cinder", "swift", "heat", "gnocchi", "ceilometer", "horizon"]
    groups = {"controller": ["ctl1"], "compute": ["cmp1"], "storage": ["sto1"], "network": ["net1"]}

    def services(host: str, group_names: list[str], enabled: list[str]) -> set[str]:
        context = {"group_names": group_names, "tenrec_services": enabled, "inventory_hostname": host, "groups": groups}
        return {name for name, expr in here.items() if env.from_string(expr).render(context) == "True"}

    assert services("ctl1", ["controller"], everything) == set(here)
    assert services("net1", ["network"], everything) == {"neutron"}
    assert services("cmp1", ["compute"], everything) == {"nova", "neutron", "ceilometer"}
    assert services("sto1", ["storage"], everything) == {"cinder", "swift"}
    assert services("sto1", ["storage"], []) == set()
    assert services("ctl1", ["controller"], []) == {"keystone", "glance", "placement", "nova", "neutron"}
