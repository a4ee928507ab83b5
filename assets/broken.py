"""A connection that cannot be built still shows in the UI: its streams as assets whose description, and whose
`connection_ok` check when run, say what is wrong. The rest of the code location loads and runs without it."""

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Definitions,
    Failure,
    asset,
    multi_asset,
)

from canalis.assets.translator import CanalisTranslator
from canalis.config.connections import ConnectionConfig
from canalis.connectors.registry import RegisteredConnector
from canalis.sdk.errors import ConfigError, ConfigProblem

UNKNOWN_STREAM = "connection"
CHECK = "connection_ok"


def build_broken_connection(
    name: str,
    connection: ConnectionConfig,
    registered: RegisteredConnector | None,
    problems: list[ConfigProblem],
    translator: CanalisTranslator,
) -> AssetsDefinition:
    """The assets of a connection with configuration problems; materializing them records why, and reads nothing."""
    streams = _streams(connection, registered)
    why = "; ".join(str(problem) for problem in problems)
    keys = [translator.raw_key(name, stream) for stream in streams]
    specs = [
        AssetSpec(
            key=key,
            group_name=translator.raw_group(name),
            kinds={"python"},
            description=f"Connection `{name}` ({connection.connector}) cannot be built: {why}. Fix the connections "
            "file (`canalis check` lists every problem); the other connections run without it.",
            metadata={"connection": name, "connector": connection.connector, "problems": len(problems)},
            skippable=True,
        )
        for key in keys
    ]
    checks = [
        AssetCheckSpec(CHECK, asset=key, description="The connection's configuration is complete and valid.")
        for key in keys
    ]

    @multi_asset(name=f"broken_{name}", specs=specs, check_specs=checks, can_subset=True)
    def _broken(context: AssetExecutionContext):
        for key in sorted(context.selected_asset_keys):
            yield AssetCheckResult(
                asset_key=key,
                check_name=CHECK,
                passed=False,
                severity=AssetCheckSeverity.ERROR,
                description=why,
                metadata={"problems": "\n".join(str(problem) for problem in problems)},
            )
        # nothing downstream reads this connection, so failing here stops no other source
        raise Failure(description=f"connection {name} cannot be built: {why}", metadata={"problems": len(problems)})

    return _broken


def _streams(connection: ConnectionConfig, registered: RegisteredConnector | None) -> list[str]:
    if registered is None:
        return [UNKNOWN_STREAM]
    try:
        declared = registered.connector.stream_names(connection.settings)
    except Exception:  # a connector that cannot even list its streams from these settings
        return [UNKNOWN_STREAM]
    wanted = [stream for stream in connection.streams or declared if stream in declared]
    return wanted or [UNKNOWN_STREAM]


def broken_file_definitions(error: ConfigError) -> Definitions:
    """The code location when the connections file itself cannot be read: one asset saying why, so the UI loads."""
    why = "; ".join(str(problem) for problem in error.problems)
    key = AssetKey(["canalis", "connections_file"])

    @asset(
        key=key,
        group_name="canalis",
        description=f"The connections file cannot be used: {why}. Run `canalis check` for every problem.",
        check_specs=[AssetCheckSpec(CHECK, asset=key, description="The connections file is valid.")],
    )
    def connections_file(context: AssetExecutionContext):
        yield AssetCheckResult(check_name=CHECK, passed=False, severity=AssetCheckSeverity.ERROR, description=why)
        raise Failure(description=f"the connections file cannot be used: {why}")

    from canalis.assets.jobs import build_jobs

    return Definitions(assets=[connections_file], jobs=build_jobs())
