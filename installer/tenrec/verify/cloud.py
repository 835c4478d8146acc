"""The connection to the deployed cloud: the deployment's own clouds.yaml, or a named cloud."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from tenrec import __version__
from tenrec.paths import StateDir
from tenrec.verify.patience import scaled

if TYPE_CHECKING:
    from openstack.connection import Connection

CLOUD_NAME = "tenrec"
CLOUDS_FILE = "clouds.yaml"
# Seconds any single API call may take before the check fails.
API_TIMEOUT = 60


class NoCloud(Exception):
    """There is no deployed cloud to talk to (or no usable description of it)."""


def clouds_file(state: StateDir) -> Path:
    return state.root / CLOUDS_FILE


def readable_by_others(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o077)


def connect(state: StateDir, os_cloud: str | None = None) -> Connection:
    """A connection from the deployment's clouds.yaml (only that file), or cloud os_cloud found as openstacksdk does.

    Nothing is sent to the cloud here; the first check authenticates.
    """
    # openstacksdk takes a moment to import; the other verbs do not need it.
    from openstack import exceptions  # noqa: PLC0415
    from openstack.config import OpenStackConfig  # noqa: PLC0415
    from openstack.connection import Connection  # noqa: PLC0415

    if os_cloud:
        where = f"cloud {os_cloud!r} (clouds.yaml search, OS_* variables)"
        cloud = os_cloud

        def load() -> OpenStackConfig:
            return OpenStackConfig(app_name="tenrec", app_version=__version__)

    else:
        path = clouds_file(state)
        if not path.is_file():
            raise NoCloud(
                f"no {path}: this config has not been deployed yet. Run `tenrec deploy` first "
                "(it writes clouds.yaml there), or name another cloud with --os-cloud NAME."
            )
        where = str(path)
        cloud = CLOUD_NAME

        def load() -> OpenStackConfig:
            # Exactly this file: no ~/.config/openstack, no secure.yaml, no OS_* variables.
            return OpenStackConfig(
                config_files=[str(path)],
                vendor_files=[],
                secure_files=[],
                load_envvars=False,
                app_name="tenrec",
                app_version=__version__,
            )

    # The rows carry every error; the libraries' warnings would only cut through the live line.
    for name in ("keystoneauth", "openstack"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        region = load().get_one(cloud=cloud, api_timeout=int(scaled(API_TIMEOUT)))
    except (exceptions.ConfigException, yaml.YAMLError, OSError) as error:
        hint = "" if os_cloud else "; `tenrec deploy` writes it again"
        raise NoCloud(f"{where}: {' '.join(str(error).split())}{hint}") from error
    return Connection(config=region)
