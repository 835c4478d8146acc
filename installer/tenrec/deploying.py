"""One deploy of a config: shared by `tenrec deploy` and `tenrec install`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from tenrec.config import Deployment
from tenrec.exitcodes import Exit
from tenrec.inventory import write_inventory
from tenrec.paths import StateDir
from tenrec.runner import RunResult, print_costs, print_summary, run_playbook, stop_ansible
from tenrec.runstate import DeployRunning, RunState, unfinished_message
from tenrec.secrets import ensure_secrets
from tenrec.verify import Context, deployed_services, registry, select
from tenrec.verify.cloud import connect
from tenrec.verify.report import perform


@dataclass
class DeployOutcome:
    rc: int
    result: RunResult | None = None


def prepare(config: Deployment, path: Path, console: Console) -> StateDir:
    """Secrets and inventory for a config; the deploy-time state beside it."""
    state = StateDir.for_config(path)
    state.create()
    added = ensure_secrets(state.secrets)
    if added:
        console.print(f"Generated {len(added)} secret(s) in {state.secrets} (mode 0600)")
    write_inventory(config, state, source=str(path.resolve()))
    return state


def deploy(
    config: Deployment,
    state: StateDir,
    console: Console,
    err: Console,
    *,
    only: list[str] | None = None,
    limit: list[str] | None = None,
    quiet: bool = False,
) -> DeployOutcome:
    """site.yml with the lock, the unfinished-run report and the summary."""
    only, limit = only or [], limit or []
    scope = "".join([f", only {', '.join(only)}" if only else "", f", limited to {', '.join(limit)}" if limit else ""])
    console.print(f"Deploying '{config.name}' ({config.release}) onto {len(config.nodes)} node(s){scope}")
    outcome = run_locked(
        config,
        state,
        console,
        err,
        "site.yml",
        label="deploy",
        scope=scope.removeprefix(", ") or "full",
        tags=",".join(only) or None,
        limit=",".join(limit) or None,
        quiet=quiet,
    )
    if outcome.rc != Exit.OK or outcome.result is None:
        return outcome
    if not (only or limit):
        state.mark_deployed(config.release)
    console.print(f"[green]Deployed; {outcome.result.changed} change(s).[/]")
    return outcome


def run_locked(
    config: Deployment,
    state: StateDir,
    console: Console,
    err: Console,
    playbook: str,
    *,
    label: str,
    scope: str,
    extravars: dict[str, str] | None = None,
    tags: str | None = None,
    limit: str | None = None,
    quiet: bool = False,
) -> DeployOutcome:
    """One playbook run that changes the cloud (deploy, upgrade, rollback, restore): one at a
    time per deployment, after what a killed run left behind, with the summary."""
    runs = RunState(state.root)
    previous = runs.previous()
    if previous is not None:
        err.print(f"[yellow]{unfinished_message(previous)}[/]")
    try:
        with runs.running(scope) as run:
            # Holding the lock: any Ansible of this deployment still running was left by a
            # run that was killed (its workers finish their task otherwise, beside this run).
            left = stop_ansible(state.inventory, on_wait=lambda message: err.print(message, markup=False))
            if left:
                err.print(f"[yellow]Stopped {len(left)} Ansible process(es) a killed run left behind.[/]")
            result = run_playbook(
                state,
                playbook,
                console,
                hosts=len(config.nodes),
                label=label,
                extravars=dict(extravars) if extravars else None,
                tags=tags,
                limit=limit,
                on_task=run.at,
                on_host_start=run.host_at,
                quiet=quiet,
            )
    except DeployRunning as error:
        err.print(f"[red]{error}[/]: wait for it to end, or stop it first.")
        return DeployOutcome(Exit.FAILED)
    print_summary(console, result)
    print_costs(console, state, label)
    if not result.ok:
        return DeployOutcome(deploy_failure(result, err), result)
    return DeployOutcome(Exit.OK, result)


def deploy_failure(result: RunResult, err: Console) -> Exit:
    """Exit 3 when a node was unreachable or refused by the precheck, else 1 (the work failed)."""
    not_ready = result.nodes_not_ready
    if not_ready:
        err.print(
            f"[bold red]{len(not_ready)} node(s) unreachable or not ready: {', '.join(not_ready)}.[/] "
            "Fix them (`tenrec check --nodes` shows why) and run the deploy again."
        )
        return Exit.NODES_NOT_READY
    return Exit.FAILED


def verify_rows(config: Deployment, state: StateDir, console: Console) -> int:
    """Every verify row of the deployed services, as `tenrec verify` runs them."""
    conn = connect(state, None)
    checks = select(registry(), deployed_services(config), ())
    auth_url = conn.config.get_auth_args().get("auth_url", "?")
    title = f"verify deployment {config.name!r}: {auth_url}, region {conn.config.region_name}"
    ctx = Context(conn, config=config, guest=None, secrets_file=state.secrets)
    return perform(checks, ctx, state, console, keep=False, title=title)


def access_lines(config: Deployment, state: StateDir) -> list[str]:
    """Where the operator goes next: the dashboard, and the credentials the deploy wrote."""
    lines = []
    if "horizon" in config.enabled_services():
        lines.append(f"Dashboard: http://{config.endpoint}/ (user admin, domain Default)")
    lines.append(f"Credentials: {state.root / 'clouds.yaml'} (cloud 'tenrec'), {state.root / 'admin-openrc.sh'}")
    lines.append(f"The admin password is in both (and in {state.secrets}, keystone_admin_password)")
    return lines
