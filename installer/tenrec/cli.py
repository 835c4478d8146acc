"""The tenrec command: check, inventory, deploy, install, upgrade, rollback, backup, restore, verify, diagnose,
secrets, lab."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from tenrec import __version__
from tenrec.config import ConfigError, Deployment, load_config
from tenrec.deploying import access_lines, deploy, prepare, verify_rows
from tenrec.diagnose import diagnose
from tenrec.exitcodes import Exit
from tenrec.install.plan import InstallChoices, PlanError
from tenrec.install.probe import ProbeError
from tenrec.install.run import Install, InstallRequest
from tenrec.lab.host import LabHostError, prepare_host
from tenrec.lab.image import ensure_image
from tenrec.lab.lab import DEFAULT_LAB, Lab, LabPaths
from tenrec.lab.topology import TOPOLOGIES, VM_ROLES, LabSpec
from tenrec.nodecheck import check_nodes, nodes_table
from tenrec.paths import StateDir
from tenrec.secrets import SECRET_NAMES, SecretsError, ensure_secrets, read_secrets, rotate_secret
from tenrec.selection import check_limit, check_only, parse_list
from tenrec.upgrading import UpgradeError, backup, restore, rollback, upgrade, upgrade_source
from tenrec.verify import Context, SelectionError, deployed_services, registry, select
from tenrec.verify.cloud import NoCloud, clouds_file, connect, readable_by_others
from tenrec.verify.guest import GuestError, guest_in
from tenrec.verify.patience import MAX_PATIENCE, patience
from tenrec.verify.report import perform

# Logs and CI are no terminal; tables there still get room to be read.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 140
console = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=_WIDTH)

Handler = Callable[[argparse.Namespace], int]


class NoConfig(Exception):
    pass


def resolve_config(given: str | None) -> Path:
    """--config, else $TENREC_CONFIG, else ./tenrec.yml, else the default lab's config."""
    if given:
        return Path(given)
    if os.environ.get("TENREC_CONFIG"):
        return Path(os.environ["TENREC_CONFIG"])
    if Path("tenrec.yml").exists():
        return Path("tenrec.yml")
    lab_config = LabPaths.named(DEFAULT_LAB).config
    if lab_config.exists():
        return lab_config
    raise NoConfig(
        "no deployment config: pass --config FILE (samples in inventory/), set TENREC_CONFIG, or run `tenrec lab up`"
    )


def report_problems(error: ConfigError) -> int:
    err.print(f"[bold red]{error.source}: {len(error.problems)} problem(s); nothing was touched[/]")
    for problem in error.problems:
        err.print(problem.render(), markup=False)
    return Exit.INVALID_CONFIG


def load(path: Path) -> Deployment:
    return load_config(path)


def config_table(config: Deployment, path: Path) -> Table:
    table = Table(title=f"{path}: deployment '{config.name}', release {config.release}")
    for column in ("node", "address", "roles", "tunnel", "storage"):
        table.add_column(column)
    for node in config.nodes:
        table.add_row(
            node.name,
            node.address,
            ", ".join(node.roles),
            node.tunnel_address or "(management)",
            node.storage_address or "(management)",
        )
    deployed = config.enabled_services()
    table.caption = f"public endpoint {config.endpoint}; optional services deployed: {', '.join(deployed) or 'none'}"
    return table


def print_access(config: Deployment, state: StateDir) -> None:
    """Where the operator goes next: the dashboard, and the credentials the deploy wrote."""
    for line in access_lines(config, state):
        console.print(line, markup=False)


def cmd_check(args: argparse.Namespace) -> int:
    path = resolve_config(args.config)
    config = load(path)
    console.print(config_table(config, path))
    console.print("[green]The config is valid.[/]")
    if not args.nodes:
        return Exit.OK
    state = prepare(config, path, console)
    console.print(f"Checking {len(config.nodes)} node(s) over SSH …")
    report = check_nodes(state, config, console)
    console.print(nodes_table(report))
    for line in report.problem_lines():
        err.print(line, markup=False)
    if not report.ok:
        err.print(f"[bold red]{report.failed_count()} node(s) are not ready.[/] Full log: {report.log}")
        return Exit.NODES_NOT_READY
    console.print("[green]Every node is ready.[/]")
    return Exit.OK


def cmd_inventory(args: argparse.Namespace) -> int:
    path = resolve_config(args.config)
    config = load(path)
    state = prepare(config, path, console)
    console.print(f"Inventory written to {state.inventory}")
    console.print(f"Run by hand: ansible-playbook -i {state.inventory} playbooks/site.yml", markup=False)
    return Exit.OK


def grow_default_lab(path: Path, args: argparse.Namespace) -> int:
    """--computes/--storage on the lab's own config: the lab gains the nodes first (lab up)."""
    recorded = Lab(DEFAULT_LAB).recorded()
    if path != LabPaths.named(DEFAULT_LAB).config or recorded is None:
        return Exit.OK
    spec = LabSpec.from_record(recorded["spec"])
    wanted = dataclasses.replace(spec, computes=args.computes or spec.computes, storage=args.storage or spec.storage)
    if wanted == spec:
        return Exit.OK
    console.print(f"The lab grows to {wanted.computes} compute and {wanted.storage} storage node(s).")
    return lab_up(DEFAULT_LAB, wanted)


def cmd_deploy(args: argparse.Namespace) -> int:
    lab_default = False
    try:
        path = resolve_config(args.config)
    except NoConfig:
        lab_default = True
        console.print(f"No config given: deploying onto the lab ({args.topology}) on this machine.")
        rc = lab_up(DEFAULT_LAB, LabSpec(DEFAULT_LAB, args.topology, args.computes or 1, args.storage or 1))
        if rc != Exit.OK:
            return rc
        path = LabPaths.named(DEFAULT_LAB).config
    else:
        # `tenrec deploy` of an existing lab, the config found by default, is README's first command too.
        lab_default = args.config is None and path == LabPaths.named(DEFAULT_LAB).config
        rc = grow_default_lab(path, args)
        if rc != Exit.OK:
            return rc
    config = load(path)
    only, limit = parse_list(args.only), parse_list(args.limit)
    problems = check_only(only, config) + check_limit(limit, config)
    if problems:
        for problem in problems:
            err.print(f"{problem.option}: {problem.message}\n    fix: {problem.fix}", markup=False)
        return Exit.INVALID_CONFIG
    state = StateDir.for_config(path)
    if (only or limit) and not state.deployed.exists():
        err.print("--only and --limit re-run parts of a deployed cloud: run a full `tenrec deploy` first.")
        return Exit.NOT_DEPLOYED
    state = prepare(config, path, console)
    started = time.monotonic()
    outcome = deploy(config, state, console, err, only=only, limit=limit)
    if outcome.rc != Exit.OK:
        return outcome.rc
    if (lab_default or args.verify) and not (only or limit):
        # The first command of README: the cloud is checked before it is handed over.
        rc = verify_rows(config, state, console)
        if rc != Exit.OK:
            return rc
    console.print(f"[bold]Ready in {time.monotonic() - started:.0f}s.[/]")
    print_access(config, state)
    return Exit.OK


def deployed_state(path: Path) -> StateDir:
    state = StateDir.for_config(path)
    if not state.deployed.exists():
        raise NoCloud(f"{path} has not been deployed (no {state.deployed}): run `tenrec deploy` first")
    return state


def cmd_upgrade(args: argparse.Namespace) -> int:
    path = resolve_config(args.config)
    config = load(path)
    source, _ = upgrade_source(config, args.to, path)
    deployed_state(path)
    return upgrade(config, prepare(config, path, console), source, console, err)


def cmd_rollback(args: argparse.Namespace) -> int:
    path = resolve_config(args.config)
    config = load(path)
    deployed_state(path)
    return rollback(config, prepare(config, path, console), path, console, err)


def cmd_backup(args: argparse.Namespace) -> int:
    path = resolve_config(args.config)
    config = load(path)
    deployed_state(path)
    return backup(config, prepare(config, path, console), console, err)


def cmd_restore(args: argparse.Namespace) -> int:
    path = resolve_config(args.config)
    config = load(path)
    deployed_state(path)
    dump = Path(args.file)
    interactive = console.is_terminal and sys.stdin.isatty()
    if not args.yes:
        if not interactive:
            err.print("restore replaces every OpenStack database: confirm with --yes", markup=False)
            return Exit.INVALID_CONFIG
        from rich.prompt import Confirm  # noqa: PLC0415

        if not Confirm.ask(f"Replace every OpenStack database of '{config.name}' with {dump.name}?"):
            return Exit.OK
    return restore(config, prepare(config, path, console), dump, console, err)


def cmd_install(args: argparse.Namespace) -> int:
    if args.config is None and os.geteuid() != 0:
        err.print("tenrec install without -c installs onto this host: run it as root", markup=False)
        return Exit.HOST_UNSUITABLE
    choices = InstallChoices(
        nfs_shares=list(args.nfs_share),
        floating_cidr=args.floating_cidr,
        enable=parse_list(args.enable),
        disable=parse_list(args.disable),
    )
    if args.config and (choices.nfs_shares or choices.floating_cidr or choices.enable or choices.disable):
        err.print("--nfs-share, --floating-cidr, --with and --without shape a plan: edit the config instead")
        return Exit.INVALID_CONFIG
    request = InstallRequest(
        config=Path(args.config) if args.config else None,
        write=Path(args.write),
        yes=args.yes,
        replan=args.replan,
        plan_only=args.plan_only,
        choices=choices,
    )
    return Install(request, console, err).run()


def cmd_diagnose(args: argparse.Namespace) -> int:
    path = resolve_config(args.config)
    config = load(path)
    state = prepare(config, path, console)
    console.print(f"Collecting from {len(config.nodes)} node(s) …")
    found = diagnose(config, state, console, args.lines)
    console.print(
        f"{found.path} ({found.path.stat().st_size // 1024} KiB): {len(found.nodes)} node(s), {found.files} file(s), "
        f"{found.redactions} secret value(s) redacted",
        markup=False,
    )
    if found.failed:
        err.print(f"Not collected: {', '.join(found.failed)} (see {state.logs}/diagnose-*.log)", markup=False)
        return Exit.FAILED
    return Exit.OK


def cmd_secrets(args: argparse.Namespace) -> int:
    if args.action == "ensure" and args.file:
        # A secrets file outside any deployment (molecule scenarios use this).
        added = ensure_secrets(Path(args.file))
        console.print(f"generated {len(added)} secret(s)" if added else "no secret missing")
        return Exit.OK
    path = resolve_config(args.config)
    state = StateDir.for_config(path)
    if args.action == "ensure":
        added = ensure_secrets(state.secrets)
        console.print(f"generated {len(added)} secret(s)" if added else "no secret missing")
        return Exit.OK
    if args.action == "list":
        values = read_secrets(state.secrets)
        table = Table(title=f"{state.secrets} (values are never shown)")
        table.add_column("secret")
        table.add_column("state")
        for name in SECRET_NAMES:
            table.add_row(name, "set" if name in values else "not generated yet")
        console.print(table)
        return Exit.OK
    if not args.name:
        err.print("secrets rotate needs the secret's NAME (see `tenrec secrets list`)")
        return Exit.INVALID_CONFIG
    rotate_secret(state.secrets, args.name)
    console.print(f"Rotated {args.name}. Run `tenrec deploy` to apply it everywhere.")
    return Exit.OK


def cmd_verify(args: argparse.Namespace) -> int:
    path = resolve_config(args.config)
    config = load(path)
    state = StateDir.for_config(path)
    checks = select(registry(), deployed_services(config), args.only or ())
    guest = Path(args.guest).expanduser() if args.guest else None
    if guest is not None:
        guest_in(guest)  # a wrong --guest stops here, before anything is created
    if (args.regex or args.concurrency != 2) and not args.tempest:
        err.print("--regex and --concurrency go with --tempest", markup=False)
        return Exit.INVALID_CONFIG
    if args.concurrency < 1:
        err.print(f"--concurrency {args.concurrency}: give 1 or more test workers", markup=False)
        return Exit.INVALID_CONFIG
    if not 1 <= args.patience <= MAX_PATIENCE:
        err.print(f"--patience {args.patience:g}: give a factor from 1 to {MAX_PATIENCE:g}", markup=False)
        return Exit.INVALID_CONFIG
    patience.factor = args.patience
    if args.tempest and (args.only or args.keep or args.guest or args.os_cloud):
        err.print("--tempest runs Tempest only: --only, --keep, --guest and --os-cloud do not apply", markup=False)
        return Exit.INVALID_CONFIG
    conn = connect(state, args.os_cloud)
    if not args.os_cloud and readable_by_others(clouds_file(state)):
        warning = f"warning: {clouds_file(state)} holds the admin password and is readable by others"
        err.print(warning, style="yellow", markup=False)
    if args.tempest:
        from tenrec.verify import tempest  # noqa: PLC0415

        return tempest.perform(conn, config, state, console, regex=args.regex, concurrency=args.concurrency)
    cloud = f"cloud {args.os_cloud!r}" if args.os_cloud else f"deployment {config.name!r}"
    title = f"verify {cloud}: {conn.config.get_auth_args().get('auth_url', '?')}, region {conn.config.region_name}"
    secrets_file = None if args.os_cloud else state.secrets
    ctx = Context(conn, config=config, guest=guest, secrets_file=secrets_file)
    return perform(checks, ctx, state, console, keep=args.keep, title=title)


KIND_NAMES = {"podman": "container", "qemu": "VM"}


def lab_up(name: str, spec: LabSpec) -> int:
    started = time.monotonic()
    lab = Lab(name)
    with console.status("lab up") as status:

        def step(message: str) -> None:
            status.update(message)
            console.print(f"[dim]{time.monotonic() - started:5.1f}s[/] {message}")

        nodes = lab.up(spec, step)
    table = Table(title=f"lab '{name}' ({spec.topology}) ready in {time.monotonic() - started:.1f}s")
    for column in ("node", "kind", "address", "roles", "state"):
        table.add_column(column)
    for node in nodes:
        table.add_row(node.name, KIND_NAMES[node.kind], node.address, ", ".join(node.roles), node.state)
    console.print(table)
    console.print(f"Deployment config: {lab.paths.config}", markup=False)
    return Exit.OK


def cmd_lab(args: argparse.Namespace) -> int:
    if args.action == "up":
        if not 1 <= args.computes <= 9:
            err.print("--computes: give 1 to 9 compute nodes")
            return Exit.INVALID_CONFIG
        if not 1 <= args.storage <= 9:
            err.print("--storage: give 1 to 9 storage nodes")
            return Exit.INVALID_CONFIG
        order = {role: i for i, role in enumerate(VM_ROLES)}
        vm_roles = tuple(sorted(set(args.vm), key=lambda role: (order.get(role, len(order)), role)))
        spec = LabSpec(args.name, args.topology, args.computes, args.storage, vm_roles)
        problems = spec.problems()
        if problems:
            for problem in problems:
                err.print(problem, markup=False)
            return Exit.INVALID_CONFIG
        return lab_up(args.name, spec)
    if args.action == "image":
        # For molecule and scripts: the node image, built or imported when missing.
        prepare_host()
        console.print(ensure_image(lambda message: err.print(message, markup=False)), markup=False)
        return Exit.OK
    lab = Lab(args.name)
    if args.action == "restart":
        started = time.monotonic()
        with console.status("lab restart") as status:

            def step(message: str) -> None:
                status.update(message)
                console.print(f"[dim]{time.monotonic() - started:5.1f}s[/] {message}")

            nodes = lab.restart(step)
        console.print(f"{len(nodes)} node(s) restarted and reachable in {time.monotonic() - started:.1f}s")
        return Exit.OK
    if args.action == "status":
        nodes = lab.status()
        if not nodes:
            console.print(f"No lab '{args.name}'. Start one with `tenrec lab up`.")
            return Exit.OK
        table = Table(title=f"lab '{args.name}'")
        for column in ("node", "kind", "address", "roles", "state"):
            table.add_column(column)
        for node in nodes:
            table.add_row(node.name, KIND_NAMES[node.kind], node.address, ", ".join(node.roles), node.state)
        console.print(table)
        console.print(f"Deployment config: {lab.paths.config}", markup=False)
        return Exit.OK if all(n.state == "running" for n in nodes) else Exit.FAILED
    removed = lab.down()
    for item in removed:
        console.print(f"removed {item}")
    console.print(f"Lab '{args.name}' is gone." if removed else f"No lab '{args.name}' to remove.")
    return Exit.OK


INSTALL_HELP = (
    "install a cloud in one go: with no config, an all-in-one cloud on this host (run as root); with -c, "
    "onto the config's nodes. Phases: plan, check, bootstrap, secrets, deploy, verify, summary; a run "
    "that stopped continues where it stopped"
)


def add_install_parser(install: argparse.ArgumentParser) -> None:
    install.add_argument("-c", "--config", help="install onto the nodes of this deployment config")
    install.add_argument(
        "--write",
        default="tenrec.yml",
        metavar="FILE",
        help="where the plan for this host goes, and is read from on later runs (default ./tenrec.yml)",
    )
    install.add_argument("--yes", "-y", action="store_true", help="do not ask before installing the plan")
    install.add_argument("--replan", action="store_true", help="plan this host again, replacing FILE")
    install.add_argument("--plan-only", action="store_true", help="write the plan and stop")
    install.add_argument(
        "--nfs-share",
        action="append",
        default=[],
        metavar="HOST:/PATH",
        help="Cinder's volumes on this NFS share (where the kernel has no device-mapper for LVM)",
    )
    install.add_argument(
        "--floating-cidr", metavar="CIDR", help="the private /24 for floating IPs (default: a free 172.24.N.0/24)"
    )
    install.add_argument("--with", dest="enable", metavar="SERVICE[,SERVICE]", help="also deploy e.g. heat")
    install.add_argument("--without", dest="disable", metavar="SERVICE[,SERVICE]", help="leave out e.g. swift")
    install.epilog = (
        "Exit codes: 0 installed and verified (or nothing to do), 1 a deploy step or a check failed, "
        "2 invalid config or options, 3 a node is unreachable or not ready, 4 this host cannot be planned for."
    )


def add_deploy_options(deploy: argparse.ArgumentParser) -> None:
    deploy.add_argument(
        "--topology", choices=TOPOLOGIES, default="multinode", help="lab topology when no config is given"
    )
    deploy.add_argument(
        "--computes", type=int, help="compute nodes of that lab (multinode, default 1); more grow an existing lab"
    )
    deploy.add_argument(
        "--storage", type=int, help="storage nodes of that lab (multinode, default 1); more grow an existing lab"
    )
    deploy.add_argument(
        "--only",
        metavar="SERVICE[,SERVICE]",
        help="re-run only these services' or roles' tasks (plus the precheck) on a deployed cloud, e.g. glance",
    )
    deploy.add_argument(
        "--limit", metavar="NODE[,NODE]", help="run on these nodes (or roles: controller, compute, ...) only"
    )
    deploy.add_argument(
        "--verify",
        action="store_true",
        help="run `tenrec verify` after a full deploy (always done for the lab deployed without a config)",
    )


def add_upgrade_parsers(
    verb: Callable[[str, Handler, str], argparse.ArgumentParser],
    config_option: Callable[[argparse.ArgumentParser], None],
) -> None:
    upgrade_verb = verb(
        "upgrade",
        cmd_upgrade,
        "upgrade the cloud to the release the config names, from the release before it: checks, a database "
        "backup, then service by service in OpenStack's order while the old ones serve; run again after a "
        "failure to go on, or roll back",
    )
    config_option(upgrade_verb)
    upgrade_verb.add_argument("--to", metavar="RELEASE", help="the release to upgrade to: must be the config's release")
    upgrade_verb.epilog = (
        "Exit codes: 0 upgraded (or every node runs the release already), 1 a step failed (run again, or "
        "`tenrec rollback`), 2 invalid config or request, 3 a node is unreachable or not ready, 5 not deployed."
    )

    rollback_verb = verb(
        "rollback",
        cmd_rollback,
        "undo the last upgrade, finished or not: every service back on the previous release's venvs, the "
        "databases read back from the backup taken before the upgrade",
    )
    config_option(rollback_verb)

    backup_verb = verb(
        "backup",
        cmd_backup,
        "dump every OpenStack database while the cloud runs (kept on the first controller and in "
        ".tenrec/backups beside the config, mode 0600)",
    )
    config_option(backup_verb)

    restore_verb = verb(
        "restore",
        cmd_restore,
        "replace every OpenStack database with a dump of `tenrec backup` of the release the cloud runs "
        "(the services stop, then a deploy starts them)",
    )
    config_option(restore_verb)
    restore_verb.add_argument("file", help="the dump, e.g. .tenrec/backups/openstack-2026.2-20261206T120000Z.sql.gz")
    restore_verb.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tenrec",
        description="Deploy a real OpenStack cloud onto Debian 12 nodes.",
        epilog="Exit codes: 0 ok, 1 failed, 2 invalid config, 3 nodes not ready, 4 host unsuitable, 5 not deployed.",
    )
    parser.add_argument("--version", action="version", version=f"tenrec {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    def verb(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = verbs.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    def config_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "-c",
            "--config",
            help="deployment config (default: $TENREC_CONFIG, ./tenrec.yml, or the lab's)",
        )

    check = verb("check", cmd_check, "validate the config (every problem at once); --nodes also probes the nodes")
    config_option(check)
    check.add_argument("--nodes", action="store_true", help="connect to the nodes and check them too")

    inventory = verb("inventory", cmd_inventory, "generate the Ansible inventory and secrets for the config")
    config_option(inventory)

    deploy = verb("deploy", cmd_deploy, "deploy the cloud; without a config, onto a lab on this machine")
    config_option(deploy)
    add_deploy_options(deploy)

    add_install_parser(verb("install", cmd_install, INSTALL_HELP))

    add_upgrade_parsers(verb, config_option)

    secrets = verb(
        "secrets", cmd_secrets, "list secret names, rotate one, or create the missing ones (values are never printed)"
    )
    config_option(secrets)
    secrets.add_argument("action", choices=("list", "rotate", "ensure"))
    secrets.add_argument("name", nargs="?", help="the secret to rotate")
    secrets.add_argument("--file", help="with ensure: a secrets file outside any deployment")

    verify = verb(
        "verify",
        cmd_verify,
        "check the deployed cloud through its APIs (token, catalog endpoints, image upload, placement, "
        "nova and neutron services, a test guest's network and metadata, floating IP, security group, "
        "a volume's life and its attachment); "
        "one row per check, everything created is removed again",
    )
    config_option(verify)
    verify.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="PATTERN",
        help="run only the checks matching these patterns (e.g. 'image', 'identity/endpoints/*'), "
        "with the checks they need",
    )
    verify.add_argument("--keep", action="store_true", help="do not remove what the checks created; list it")
    verify.add_argument(
        "--os-cloud",
        metavar="NAME",
        help="use cloud NAME from the usual clouds.yaml search instead of the deployment's .tenrec/clouds.yaml",
    )
    verify.add_argument(
        "--guest",
        metavar="DIR",
        help="the test guest compute/boot starts: a directory with vmlinuz and initramfs.gz "
        "(`python3 tests/guest_image.py verify` builds one); default: built from the checkout tenrec runs "
        "from, else compute/boot and the rows needing it are skipped",
    )
    verify.add_argument(
        "--tempest",
        action="store_true",
        help="instead of the rows, run the upstream test suite (Tempest, from its own pinned venv) against "
        "the cloud: the smoke tests (with Heat, heat-tempest-plugin's API tests too), or those --regex selects",
    )
    verify.add_argument(
        "--regex", metavar="REGEX", help="with --tempest: run the tests matching REGEX, not the smoke tests"
    )
    verify.add_argument(
        "--concurrency", type=int, default=2, metavar="N", help="with --tempest: test workers (default 2)"
    )
    verify.add_argument(
        "--patience",
        type=float,
        default=1.0,
        metavar="FACTOR",
        help="multiply every time limit of the checks (API answers, a server ACTIVE, its guest's console, "
        "pings, volumes, stacks; Tempest's build and SSH timeouts) by FACTOR, 1 to 20, for slow or emulated "
        "hardware (default 1)",
    )
    verify.epilog = (
        "Exit codes: 0 every check passed (with --tempest: no test failed), 1 a check, a test or a cleanup "
        "failed, 2 bad options, 5 not deployed yet."
    )

    diagnose_verb = verb(
        "diagnose",
        cmd_diagnose,
        "one tarball for a bug report: every node's service status, the last lines of each service's journal, "
        "configs, OVS bridges and flows, libvirt domains, iSCSI targets, disk and memory; every secret redacted",
    )
    config_option(diagnose_verb)
    diagnose_verb.add_argument("--lines", type=int, default=200, help="journal lines per service (default 200)")
    diagnose_verb.epilog = "Exit codes: 0 every node collected, 1 a node could not be collected, 2 invalid config."

    lab = verb("lab", cmd_lab, "real nodes on this machine: podman containers running systemd, or QEMU VMs")
    lab_verbs = lab.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = lab_verbs.add_parser("up", help="create the lab (idempotent)", description="create the lab (idempotent)")
    up.add_argument("--topology", choices=TOPOLOGIES, default="multinode")
    up.add_argument("--computes", type=int, default=1, help="compute nodes in multinode (1-9, default 1)")
    up.add_argument("--storage", type=int, default=1, help="storage nodes in multinode (1-9, default 1)")
    up.add_argument(
        "--vm",
        type=lambda text: [role for role in text.split(",") if role],
        default=[],
        metavar="ROLE[,ROLE]",
        help="nodes holding these roles (network, compute, storage) are QEMU VMs with Debian's own kernel "
        "(OVS kernel datapath, LVM, LIO, open-iscsi) instead of containers; compute and storage go together",
    )
    lab_verbs.add_parser(
        "image",
        help="build or import the node image and print its tag (molecule uses it)",
        description="build or import the node image and print its tag (molecule uses it)",
    )
    for action, text in (
        ("up", ""),
        ("status", "show the lab's nodes"),
        ("restart", "reboot every node at once (systemd stops and boots again), as a power cycle would"),
        ("down", "remove nodes and networks"),
    ):
        sub = up if action == "up" else lab_verbs.add_parser(action, help=text, description=text)
        sub.add_argument("--name", default=DEFAULT_LAB, help=f"lab name (default {DEFAULT_LAB})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except ConfigError as error:
        return report_problems(error)
    except NoConfig as error:
        err.print(f"[red]{error}[/]")
        return Exit.INVALID_CONFIG
    except SecretsError as error:
        err.print(f"[red]secrets: {error}[/]")
        return Exit.INVALID_CONFIG
    except SelectionError as error:
        err.print(str(error), style="red", markup=False)
        return Exit.INVALID_CONFIG
    except GuestError as error:
        err.print(str(error), style="red", markup=False)
        return Exit.INVALID_CONFIG
    except NoCloud as error:
        err.print(str(error), style="red", markup=False)
        return Exit.NOT_DEPLOYED
    except ProbeError as error:
        err.print(f"install: {error}", style="red", markup=False)
        return Exit.HOST_UNSUITABLE
    except UpgradeError as error:
        err.print(str(error), style="red", markup=False)
        return Exit.INVALID_CONFIG
    except PlanError as error:
        err.print(f"install: {error}", style="red", markup=False)
        return Exit.INVALID_CONFIG
    except LabHostError as error:
        err.print(f"[red]lab: {error}[/]")
        return Exit.HOST_UNSUITABLE
    except KeyboardInterrupt as interrupt:
        detail = f": {interrupt}" if str(interrupt) else ""
        err.print(f"interrupted{detail}", style="red", markup=False)
        return Exit.INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
