"""Resources have a lifecycle: one store engine per resource and process, disposed when the run ends; every
connector a step opens is closed."""

from pathlib import Path

from dagster import AssetExecutionContext, asset, materialize

from canalis.assets.build import build_definitions
from canalis.assets.resources import StoreResource
from canalis.config.connections import CanalisConfig
from canalis.sdk.base import Connector
from canalis.store import store as store_module


def test_one_engine_per_run_disposed_at_teardown(tmp_path: Path, monkeypatch) -> None:
    created = []
    real_create = store_module.create_store_engine

    def counting_create(url: str):
        engine = real_create(url)
        created.append(engine)
        return engine

    monkeypatch.setattr(store_module, "create_store_engine", counting_create)
    seen = []

    @asset(required_resource_keys={"store"})
    def first(context: AssetExecutionContext) -> None:
        seen.append(context.resources.store.get_store())

    @asset(deps=[first], required_resource_keys={"store"})
    def second(context: AssetExecutionContext) -> None:
        seen.append(context.resources.store.get_store())
        seen.append(context.resources.store.get_store())

    resource = StoreResource(database_url=f"sqlite:///{tmp_path / 'c.db'}")
    disposed = []
    monkeypatch.setattr(store_module.Store, "close", lambda self: disposed.append(self) or self.engine.dispose())
    assert materialize([first, second], resources={"store": resource}).success
    assert len(created) == 1
    assert seen[0] is seen[1] is seen[2]
    assert disposed == [seen[0]]


def test_raw_assets_close_the_connectors_they_open(tmp_path: Path, monkeypatch) -> None:
    closed: list[str] = []
    monkeypatch.setattr(Connector, "close", lambda self: closed.append(self.connection))
    config = CanalisConfig.model_validate(
        {"connections": {"web": {"connector": "file_drop", "channel": "web", "settings": {"path": "sample:web_shop"}}}}
    )
    monkeypatch.setenv("CANALIS_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    defs = build_definitions(config)
    job = defs.resolve_implicit_global_asset_job_def()
    raw_keys = [key for key in defs.resolve_all_asset_keys() if key.path[0] == "raw"]
    result = job.execute_in_process(asset_selection=raw_keys)
    assert result.success
    assert closed == ["web"] * len(raw_keys)
