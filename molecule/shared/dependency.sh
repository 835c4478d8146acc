#!/usr/bin/env bash
# Molecule's dependency step for every scenario: the lab node image (built once, then
# cached) and the scenario's own podman network with a fixed subnet, so that platforms
# can have fixed addresses (the podman driver's schema has no subnet field).
set -euo pipefail
network=$1 subnet=$2 kind=${3:-routed}
# Scenarios with a controller mount the shared wheel repository from here.
mkdir -p "${HOME}/.cache/tenrec/lab-wheels"
tenrec=$(command -v tenrec || echo "${MOLECULE_PROJECT_DIRECTORY:-.}/.venv/bin/tenrec")
"$tenrec" lab image >/dev/null
# An internal network (a tunnel network) gives its nodes no default route: once the
# userspace datapath owns that interface, traffic to the outside must not take it.
internal=()
[ "$kind" = internal ] && internal=(--internal)
if ! podman network exists "$network"; then
  podman network create --subnet "$subnet" "${internal[@]}" --label tenrec.molecule="$network" "$network" >/dev/null
fi
