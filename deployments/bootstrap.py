"""Idempotent bootstrap of the Prefect side of fleettickets (`make deploy`).

1. the `fleettickets` process work pool, if missing;
2. every deployment in prefect.yaml (`prefect --no-prompt deploy --all`); schedules carry
   slugs, so a re-deploy updates them in place and never duplicates scheduled runs. It deploys
   the code it was started from: the installed wheel (prefect.yaml ships inside this package,
   the entrypoints are relative to site-packages) or a checkout (prefect.yaml at its root);
3. the blocks the flows read (tasks/blocks.py: the S3 bucket, its MinIO credentials, the
   database URL and geocoder key as Secret blocks), created from the environment when missing;
   an existing block is never overwritten (an operator may have edited it in the UI) unless
   `--overwrite-blocks` is given;
4. what a self-hosted server needs to stay healthy: an automation that marks flow runs
   whose heartbeats stopped as Crashed (every run sends one every FLOW_HEARTBEAT_SECONDS:
   prefect.yaml's job variables, the command line's environment),
   and, when FLEETTICKETS_ALERT_BLOCK names a Prefect notification block (Slack, email,
   webhook ...), an automation that sends it every failed or crashed fleettickets run.

Re-running changes nothing that is already in place.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from prefect.automations import Automation
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState, SendNotification
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.exceptions import ObjectNotFound

from fleettickets.config import FLOW_HEARTBEAT_SECONDS
from tasks.blocks import ensure_blocks

# Where flows/ lives (the entrypoints `flows/...py:...` are relative to it): site-packages for the
# installed wheel, the checkout otherwise.
PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_POOL = "fleettickets"
DEPLOYMENTS = ("ingest-inc/scheduled", "ingest-crq/scheduled", "quarantine-file/on-demand",
               "geocode-catch-up/on-demand")
ZOMBIE_AUTOMATION = "fleettickets: mark zombie runs crashed"
ZOMBIE_AFTER_SECONDS = 3 * FLOW_HEARTBEAT_SECONDS  # three missed heartbeats
FAILURE_AUTOMATION = "fleettickets: notify failed runs"
TERMINAL = {"prefect.flow-run.Completed", "prefect.flow-run.Failed", "prefect.flow-run.Cancelled",
            "prefect.flow-run.Crashed"}


def ensure_work_pool() -> str:
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(WORK_POOL)
            return "exists"
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(name=WORK_POOL, type="process"))
            return "created"


def prefect_file(project_dir: Path) -> Path:
    """The wheel carries prefect.yaml inside this package (pyproject.toml); a checkout at its root."""
    packaged = project_dir / "deployments" / "prefect.yaml"
    return packaged if packaged.is_file() else project_dir / "prefect.yaml"


def fingerprint(project_dir: Path, target_dir: str) -> str:
    """What a deployment is made of: prefect.yaml, the flow code (parameters), where it runs."""
    digest = hashlib.sha256(target_dir.encode())
    for path in [prefect_file(project_dir), *sorted((project_dir / "flows").glob("*.py"))]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def deployed_versions() -> set[str | None]:
    with get_client(sync_client=True) as client:
        versions = set()
        for name in DEPLOYMENTS:
            try:
                versions.add(client.read_deployment_by_name(name).version)
            except ObjectNotFound:
                versions.add(None)
        return versions


def deploy_all(project_dir: Path = PROJECT_DIR) -> str:
    """`prefect --no-prompt deploy --all`, unless the same project is already deployed."""
    target_dir = os.environ.get("FLEETTICKETS_PROJECT_DIR", str(project_dir))
    version = fingerprint(project_dir, target_dir)
    if deployed_versions() == {version}:
        return f"up to date (version {version})"
    env = {**os.environ, "FLEETTICKETS_PROJECT_DIR": target_dir, "FLEETTICKETS_DEPLOY_FINGERPRINT": version}
    subprocess.run([str(Path(sys.executable).parent / "prefect"), "--no-prompt", "deploy", "--all",
                    "--prefect-file", str(prefect_file(project_dir))],
                   cwd=project_dir, env=env, check=True, stdout=subprocess.DEVNULL)
    return f"deployed version {version}: {', '.join(DEPLOYMENTS)}"


def _ensure_automation(automation: Automation) -> str:
    try:
        existing = Automation.read(name=automation.name)
    except ValueError:
        automation.create()
        return "created"
    same = existing.model_dump(include={"trigger", "actions", "enabled"}) == automation.model_dump(
        include={"trigger", "actions", "enabled"})
    if same:
        return "exists"
    automation.id = existing.id
    automation.update()
    return "updated"


def zombie_automation() -> Automation:
    return Automation(
        name=ZOMBIE_AUTOMATION,
        description="A flow run that stops sending heartbeats (worker or machine died) is marked Crashed.",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.heartbeat", *TERMINAL},
            match={"prefect.resource.id": ["prefect.flow-run.*"]},
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=timedelta(seconds=ZOMBIE_AFTER_SECONDS),
        ),
        actions=[ChangeFlowRunState(
            state=StateType.CRASHED,
            message=f"Marked crashed: no heartbeat for {ZOMBIE_AFTER_SECONDS} s (worker or machine died).")],
    )


def failure_automation(block_document_id) -> Automation:  # a UUID
    return Automation(
        name=FAILURE_AUTOMATION,
        description="Every failed or crashed ingest run reaches the operators' notification block.",
        trigger=EventTrigger(
            expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed"},
            match={"prefect.resource.id": ["prefect.flow-run.*"]},
            match_related={"prefect.resource.id": ["prefect.tag.fleettickets"]},
            posture=Posture.Reactive,
            threshold=1,
        ),
        actions=[SendNotification(
            block_document_id=block_document_id,
            subject="fleettickets: {{ flow.name }} {{ flow_run.state.name }}",
            body="{{ flow_run.name }}: {{ flow_run.state.message }}",
        )],
    )


def bootstrap(project_dir: Path = PROJECT_DIR, *, overwrite_blocks: bool = False) -> dict[str, str]:
    report = {"work pool": ensure_work_pool()}
    report.update(ensure_blocks(overwrite=overwrite_blocks))
    report["deployments"] = deploy_all(project_dir)
    report["zombie automation"] = _ensure_automation(zombie_automation())
    alert_block = os.environ.get("FLEETTICKETS_ALERT_BLOCK")
    if alert_block:
        block = Block.load(alert_block)
        report["failure automation"] = _ensure_automation(failure_automation(block._block_document_id))
    else:
        report["failure automation"] = "skipped: set FLEETTICKETS_ALERT_BLOCK to a notification block's name"
    return report


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deployments.bootstrap", description=__doc__.split("\n")[0])
    parser.add_argument("--overwrite-blocks", action="store_true",
                        help="replace existing blocks with values from the environment")
    args = parser.parse_args(argv)
    for what, outcome in bootstrap(overwrite_blocks=args.overwrite_blocks).items():
        print(f"{what}: {outcome}")


if __name__ == "__main__":
    main()
