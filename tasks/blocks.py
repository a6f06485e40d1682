"""Where the bucket, the database URL and the geocoder key come from: Prefect blocks first.

- `fleettickets-bucket` (S3 Bucket, prefect-aws): the bucket's name; references its credentials block.
- `fleettickets-s3-credentials` (MinIO Credentials, prefect-aws): access key, secret key, region;
  the endpoint and path-style addressing on its `aws_client_parameters`.
- `fleettickets-database-url` (Secret): the DSN (DATABASE_URL).
- `fleettickets-geocoder-api-key` (Secret): the geocoder's key (GEOCODER_API_KEY).

Read by: the ingest flows (the bucket in list/download/archive, the database everywhere, the
key in the geocoding tasks), the geocode flow (database, key) and the CLI (`migrate`,
`status`, `quarantine`, `sample --to-bucket`). The S3 Bucket block may reference AWS
Credentials instead of MinIO Credentials.

One precedence, per setting: **the block** when a Prefect API is configured (PREFECT_API_URL)
and a block of that name exists; **else the environment** (and the env file, `.env`);
**else the default** (fleettickets/config.py). A temporary server that a command starts when
no API is configured holds no blocks.

Names: FLEETTICKETS_BLOCK_BUCKET, FLEETTICKETS_BLOCK_DATABASE_URL and
FLEETTICKETS_BLOCK_GEOCODER_API_KEY override the defaults (per deployment:
`job_variables: {env: {...}}` in prefect.yaml); runs reach the credentials through the bucket
block's reference, FLEETTICKETS_BLOCK_S3_CREDENTIALS names the one `make deploy` creates. `make deploy` creates the
missing blocks from the environment (`ensure_blocks`) and never overwrites an existing one
unless asked (`--overwrite-blocks`).

Tasks never take settings or clients as parameters (Prefect stores parameters): they call
`run_resources()`, which resolves once per flow run.
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefect.blocks.core import Block
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.runtime import flow_run
from prefect.settings import get_current_settings

from fleettickets.bucket import Bucket
from fleettickets.config import (
    ConfigurationError,
    Settings,
    SourcedSecret,
    env_origins,
    is_http_url,
)
from fleettickets.storage import BOTOCORE_CONFIG

if TYPE_CHECKING:  # prefect-aws costs a run ~0.2 s to import: only when one of its blocks is there
    from prefect.client.orchestration import SyncPrefectClient
    from prefect_aws import MinIOCredentials, S3Bucket

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BlockSpec:
    variable: str  # the environment variable that renames the block
    default: str
    type_name: str
    holds: tuple[str, ...]  # the settings (variables) it replaces
    type_slug: str

    @property
    def name(self) -> str:
        return os.environ.get(self.variable, "").strip() or self.default


BUCKET = BlockSpec("FLEETTICKETS_BLOCK_BUCKET", "fleettickets-bucket", "S3 Bucket", ("RUSTFS_BUCKET",), "s3-bucket")
S3_CREDENTIALS = BlockSpec(
    "FLEETTICKETS_BLOCK_S3_CREDENTIALS", "fleettickets-s3-credentials", "MinIO Credentials",
    ("RUSTFS_ENDPOINT_URL", "RUSTFS_ACCESS_KEY", "RUSTFS_SECRET_KEY", "RUSTFS_REGION"), "minio-credentials",
)
DATABASE_URL = BlockSpec("FLEETTICKETS_BLOCK_DATABASE_URL", "fleettickets-database-url", "Secret",
                         ("DATABASE_URL",), "secret")
GEOCODER_API_KEY = BlockSpec("FLEETTICKETS_BLOCK_GEOCODER_API_KEY", "fleettickets-geocoder-api-key", "Secret",
                             ("GEOCODER_API_KEY",), "secret")
BLOCKS = (BUCKET, S3_CREDENTIALS, DATABASE_URL, GEOCODER_API_KEY)


class PrefectUnreachable(ConfigurationError):
    """A Prefect API is configured but does not answer."""


@dataclass(frozen=True)
class Resources:
    """What a run or a command works with, and where each setting came from (never its value)."""

    settings: Settings
    bucket: Bucket
    origins: dict[str, str]  # variable -> "block <name> (<type>)" | "environment" | "env file <path>" | "default"
    note: str | None = None  # why blocks were not read, when they could not be

    def report(self) -> dict[str, dict[str, str]]:
        """For `status`: per variable, its source and, for a block, the block's name and type."""
        shown = {}
        for variable, origin in self.origins.items():
            if origin.startswith("block "):
                name, _, kind = origin.removeprefix("block ").partition(" (")
                shown[variable] = {"source": "block", "block": name, "type": kind.rstrip(")")}
            elif origin.startswith("env file"):
                shown[variable] = {"source": "env file", "path": origin.removeprefix("env file ")}
            else:
                shown[variable] = {"source": origin}
        return shown


def api_url() -> str | None:
    """The configured Prefect API (PREFECT_API_URL, a profile, or a Prefect settings file), if any."""
    return get_current_settings().api.url


def check_api(url: str) -> None:
    """One clean error when a configured Prefect API does not answer (instead of a traceback)."""
    existing_blocks(url, ())


def existing_blocks(url: str, specs: tuple[BlockSpec, ...]) -> set[BlockSpec]:
    """Which of `specs` exist on the API at `url`, after its health check, over one client (each
    client costs ~20 ms to make, each miss through Block.load another ~40 ms); PrefectUnreachable
    when the API does not answer."""
    with get_client(sync_client=True, httpx_settings={"timeout": 10}) as client:
        problem = client.api_healthcheck()
        if problem is not None:
            raise PrefectUnreachable(
                f"cannot reach the Prefect API at {url} (PREFECT_API_URL; {type(problem).__name__}): start the"
                " server, fix PREFECT_API_URL, or unset it to run with a temporary server"
            )
        return {spec for spec in specs if _document_exists(client, spec.type_slug, spec.name)}


def _document_exists(client: SyncPrefectClient, block_type_slug: str, name: str) -> bool:
    try:
        client.read_block_document_by_name(name, block_type_slug=block_type_slug, include_secrets=False)
        return True
    except ObjectNotFound:
        return False


def _load(cls: type[Block], name: str) -> Any | None:
    """The block, or None when there is none of that type and name."""
    try:
        return cls.load(name)
    except ValueError as exc:
        if isinstance(exc.__cause__, ObjectNotFound):
            return None
        raise ConfigurationError(f"{cls.get_block_type_name()} block {name!r} cannot be read: "
                                 f"{type(exc).__name__}") from None


def _credentials_values(bucket: S3Bucket, bucket_label: str) -> tuple[dict[str, Any], str, str]:
    """The S3 settings the bucket block's credentials give; with what to name them in errors and status."""
    from prefect_aws import MinIOCredentials

    creds = bucket.credentials
    kind = "MinIO Credentials" if isinstance(creds, MinIOCredentials) else "AWS Credentials"
    name = None if getattr(creds, "_is_anonymous", False) else creds._block_document_name
    label = f"{kind} block {name!r}" if name else f"the credentials of {bucket_label}"
    origin = f"block {name} ({kind})" if name else f"block {BUCKET.name} (S3 Bucket)"
    if isinstance(creds, MinIOCredentials):
        access, secret = creds.minio_root_user, creds.minio_root_password
    else:
        access, secret = creds.aws_access_key_id, creds.aws_secret_access_key
    endpoint = creds.aws_client_parameters.endpoint_url
    if endpoint and not is_http_url(endpoint):
        raise ConfigurationError(f"{label}: aws_client_parameters.endpoint_url must be an http(s) URL such as"
                                 " http://127.0.0.1:9000")
    values: dict[str, Any] = {"s3_endpoint_url": endpoint or None}
    if access:
        values["s3_access_key"] = SourcedSecret(str(access), origin=label)
    if secret is not None:
        values["s3_secret_key"] = SourcedSecret(secret.get_secret_value(), origin=label)
    if creds.region_name:
        values["s3_region"] = creds.region_name
    return values, label, origin


def _secret_value(block: Secret, label: str) -> str:
    value = block.value.get_secret_value()  # not .get(): that would turn "12345" into a number
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{label} must hold a non-empty text value")
    return value.strip()


def resolve(*, strict: bool = True) -> Resources:
    """Settings and the bucket, blocks first (see the module docstring for the precedence).

    strict: a configured Prefect API that does not answer is an error (flows, `ingest`);
    otherwise the environment is used and `note` says why (`status`, `migrate`, ...).
    """
    origins = env_origins()
    overrides: dict[str, Any] = {}
    present, note = _present_blocks(strict=strict)
    bucket_block = None
    if BUCKET in present:
        from prefect_aws import S3Bucket  # ~0.2 s to import: only when its block is there

        bucket_block = _load(S3Bucket, BUCKET.name)
    labels: dict[str, str] = {}
    if bucket_block is not None:
        labels = _bucket_block_overrides(bucket_block, overrides, origins)
    _secret_block_overrides(present, overrides, origins)
    if "database_url" in overrides:
        _check_dsn(overrides["database_url"])
    settings = Settings.from_env(**overrides)
    if bucket_block is not None:
        bucket = Bucket(settings.s3_bucket, bucket_block.credentials.get_s3_client(), settings.s3_endpoint_url,
                        bucket_origin=labels["bucket"], credentials_origin=labels["credentials"],
                        endpoint_origin=labels["credentials"])
    else:
        bucket = Bucket.from_settings(settings)
    return Resources(settings, bucket, origins, note)


def _present_blocks(*, strict: bool) -> tuple[set[BlockSpec], str | None]:
    """The blocks a run reads that exist on the configured Prefect API (none without an API, or
    when it does not answer and not strict), and the note that says why they were not read."""
    url = api_url()
    if not url:
        return set(), None
    try:
        return existing_blocks(url, (BUCKET, DATABASE_URL, GEOCODER_API_KEY)), None
    except PrefectUnreachable as exc:
        if strict:
            raise
        note = f"blocks not read: {exc}"
        log.warning("%s; settings come from the environment", note)
        return set(), note


def _bucket_block_overrides(bucket_block: S3Bucket, overrides: dict[str, Any],
                            origins: dict[str, str]) -> dict[str, str]:
    """The bucket block's settings into `overrides` and where they came from into `origins`;
    returns the labels its errors name the bucket and its credentials by."""
    bucket_label = f"S3 Bucket block {BUCKET.name!r}"
    if bucket_block.bucket_folder:
        raise ConfigurationError(f"{bucket_label}: bucket_folder must be empty (fleettickets keeps"
                                 " its files under automations/<dataset>/)")
    values, creds_label, creds_origin = _credentials_values(bucket_block, bucket_label)
    overrides.update(values, s3_bucket=bucket_block.bucket_name)
    origins["RUSTFS_BUCKET"] = f"block {BUCKET.name} (S3 Bucket)"
    for variable, field in (("RUSTFS_ENDPOINT_URL", "s3_endpoint_url"), ("RUSTFS_ACCESS_KEY", "s3_access_key"),
                            ("RUSTFS_SECRET_KEY", "s3_secret_key"), ("RUSTFS_REGION", "s3_region")):
        if field in values:
            origins[variable] = creds_origin
    return {"bucket": bucket_label, "credentials": creds_label}


def _secret_block_overrides(present: set[BlockSpec], overrides: dict[str, Any], origins: dict[str, str]) -> None:
    """The Secret blocks that exist (database URL, geocoder key) into `overrides` and `origins`."""
    for spec, field in ((DATABASE_URL, "database_url"), (GEOCODER_API_KEY, "geocoder_api_key")):
        block = _load(Secret, spec.name) if spec in present else None
        if block is not None:
            label = f"Secret block {spec.name!r}"
            overrides[field] = SourcedSecret(_secret_value(block, label), origin=label)
            origins[spec.holds[0]] = f"block {spec.name} (Secret)"


def _check_dsn(dsn: SourcedSecret) -> None:
    import psycopg

    try:
        psycopg.conninfo.conninfo_to_dict(dsn.get_secret_value().replace("postgresql+psycopg://", "postgresql://", 1))
    except psycopg.Error:
        raise ConfigurationError(f"{dsn.origin} is not a PostgreSQL URL"
                                 " (postgresql://user:password@host:port/database)") from None


# --- one resolution per flow run --------------------------------------------------------------

_lock = threading.Lock()
_by_run: dict[str, Resources] = {}
_for_next_run: list[Resources] = []  # resolved by the command that is about to start a flow


def hand_to_next_run(found: Resources) -> None:
    """A command that has just resolved its resources (to fail early on a bad setting) hands
    them to the flow run it starts next, which would otherwise read the same blocks again."""
    _for_next_run[:] = [found]


def run_resources() -> Resources:
    """The current flow run's resources, resolved on first use (tasks call this, not parameters).

    Keyed by flow run: every run reads the blocks again, so an edited block counts from the
    next run on; the tasks of one run share one client.
    """
    run_id = flow_run.get_id()
    if not run_id:
        return resolve()
    with _lock:
        if run_id not in _by_run:
            if len(_by_run) > 32:
                _by_run.clear()
            _by_run[run_id] = _for_next_run.pop() if _for_next_run else resolve()
        return _by_run[run_id]


def run_settings() -> Settings:
    return run_resources().settings


def run_bucket() -> Bucket:
    return run_resources().bucket


# --- creating the blocks (make deploy) --------------------------------------------------------

def _exists(block_type_slug: str, name: str) -> bool:
    with get_client(sync_client=True) as client:
        return _document_exists(client, block_type_slug, name)


def ensure_blocks(*, overwrite: bool = False) -> dict[str, str]:
    """Create the missing blocks from the environment; an existing block is kept unless `overwrite`.

    A block whose values the environment does not have (no S3 keys, no geocoder key) is skipped
    and said so: the runs then use the environment for it.
    """
    from prefect_aws import MinIOCredentials, S3Bucket

    settings = Settings.from_env()
    origins = env_origins()
    # In this order: the bucket block refers to the credentials block saved before it.
    wanted: tuple[tuple[type[Block], str, Callable[[], Block | None], tuple[str, ...]], ...] = (
        (MinIOCredentials, S3_CREDENTIALS.name, lambda: _credentials_block(settings),
         ("RUSTFS_ACCESS_KEY", "RUSTFS_SECRET_KEY")),
        (S3Bucket, BUCKET.name, lambda: _bucket_block(settings), ()),
        (Secret, DATABASE_URL.name, lambda: Secret(value=settings.database_url), ("DATABASE_URL",)),
        (Secret, GEOCODER_API_KEY.name, lambda: Secret(value=settings.geocoder_api_key), ("GEOCODER_API_KEY",)),
    )
    return {f"block {name}": _ensure_block(cls, name, make, needs, origins=origins, overwrite=overwrite)
            for cls, name, make, needs in wanted}


def _ensure_block(cls: type[Block], name: str, make: Callable[[], Block | None], needs: tuple[str, ...], *,
                  origins: dict[str, str], overwrite: bool) -> str:
    """Save one block made from the environment unless it is kept or cannot be made; says which."""
    exists = _exists(cls.get_block_type_slug(), name)
    if exists and not overwrite:
        return "exists (kept; --overwrite-blocks replaces it from the environment)"
    missing = [v for v in needs if origins[v] == "default"]
    if missing:
        return f"skipped: {' and '.join(missing)} not set"
    block = make()
    if block is None:
        return f"skipped: its credentials block {S3_CREDENTIALS.name} does not exist"
    block.save(name, overwrite=True)
    return "overwritten from the environment" if exists else "created from the environment"


def _credentials_block(settings: Settings) -> MinIOCredentials:
    from prefect_aws import AwsClientParameters, MinIOCredentials

    return MinIOCredentials(
        minio_root_user=settings.s3_access_key.get_secret_value(),
        minio_root_password=settings.s3_secret_key,
        region_name=settings.s3_region,
        aws_client_parameters=AwsClientParameters(endpoint_url=settings.s3_endpoint_url,
                                                  config=copy.deepcopy(BOTOCORE_CONFIG)),
    )


def _bucket_block(settings: Settings) -> S3Bucket | None:
    # The loaded (named) credentials block: the bucket block references it, so rotating the
    # keys in the credentials block is seen by every run that loads the bucket.
    from prefect_aws import AwsCredentials, MinIOCredentials, S3Bucket

    creds = _load(MinIOCredentials, S3_CREDENTIALS.name) or _load(AwsCredentials, S3_CREDENTIALS.name)
    return S3Bucket(bucket_name=settings.s3_bucket, credentials=creds) if creds is not None else None


def delete_blocks() -> None:
    """Remove fleettickets' blocks (tests; an operator uses the UI)."""
    from prefect_aws import MinIOCredentials, S3Bucket

    for cls, spec in ((S3Bucket, BUCKET), (MinIOCredentials, S3_CREDENTIALS), (Secret, DATABASE_URL),
                      (Secret, GEOCODER_API_KEY)):
        with get_client(sync_client=True) as client:
            try:
                doc = client.read_block_document_by_name(spec.name, block_type_slug=cls.get_block_type_slug())
            except ObjectNotFound:
                continue
            client.delete_block_document(doc.id)
