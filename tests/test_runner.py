"""The one Dask runner of ingest and eval: modes, order of results, errors."""

from __future__ import annotations

import pytest

from pano.errors import ConfigError, InputDataError
from pano.pipelines.runner import Runner, dask_runner, is_memory


def _task(x: int, add: int = 0) -> int:
    if x < 0:
        raise InputDataError(f"item {x} is negative")
    if x == 99:
        raise RuntimeError("a bug")
    return x * 10 + add


def test_in_process_results_in_item_order_and_errors() -> None:
    r = Runner(None)
    assert r.map(_task, [3, 1, 2], "t", add=1) == [31, 11, 21]
    assert r.map(_task, [], "t") == []
    out = r.map(_task, [1, -1], "t", return_errors=True)
    assert out[0] == 10 and isinstance(out[1], InputDataError)
    with pytest.raises(InputDataError, match="item -1"):
        r.map(_task, [1, -1], "t")
    with pytest.raises(RuntimeError, match="a bug"):  # a bug is never swallowed in-process
        r.map(_task, [99], "t", return_errors=True)


def test_modes_and_refusals() -> None:
    assert is_memory("memory://x.zarr") and not is_memory("x.zarr")
    for store, workers, n in (("s.zarr", 0, 3), ("s.zarr", 4, 0), ("memory://s", None, 3)):
        with dask_runner(store, workers, None, n) as r:
            assert r.client is None  # in-process: no cluster started
    with (
        pytest.raises(ConfigError, match="memory:// store exists only in this process"),
        dask_runner("memory://s", None, "tcp://127.0.0.1:1", 3),
    ):
        pass
    with (
        pytest.raises(ConfigError, match="--workers 0 runs in-process and --scheduler"),
        dask_runner("s.zarr", 0, "tcp://127.0.0.1:1", 3),
    ):
        pass


def test_local_cluster_keeps_order_and_returns_errors() -> None:
    # Workers import tasks by name: a function of pano itself (a test module's would not
    # import there). parse_overrides raises ConfigError on an item without "=".
    from pano.config import parse_overrides

    items = [[f"k={i}"] for i in range(4)]
    with dask_runner("s.zarr", 1, None, 4) as r:  # one worker process
        assert r.client is not None
        assert r.map(parse_overrides, items, "t", source="-s") == [{"k": i} for i in range(4)]
        out = r.map(parse_overrides, [["a=1"], ["bad"]], "t", scatter=True, return_errors=True)
        assert out[0] == {"a": 1} and isinstance(out[1], ConfigError)
        with pytest.raises(ConfigError, match="-s 'bad': expected key=value"):
            r.map(parse_overrides, [["a=1"], ["bad"]], "t", source="-s")


def test_a_local_cluster_listens_on_loopback_only() -> None:
    """The scheduler, the workers and the dashboard (no authentication) are loopback-only."""
    import urllib.error
    import urllib.parse
    import urllib.request

    from pano.pipelines.runner import _has_bokeh, check_dashboard, dashboard_address

    for setting in ("local", "off"):
        with dask_runner("s.zarr", 1, None, 1, dashboard=setting) as r:
            assert r.client is not None
            info = r.client.scheduler_info()
            assert urllib.parse.urlparse(info["address"]).hostname == "127.0.0.1"
            for worker in info["workers"]:
                assert urllib.parse.urlparse(worker).hostname == "127.0.0.1"
            # Dask always serves HTTP (health, metrics; the bokeh dashboard when on):
            # bound to loopback, never to every interface (Dask's ":0" means 0.0.0.0).
            http = r.client.cluster.scheduler.http_server
            assert http.address == "127.0.0.1"
            url = f"http://127.0.0.1:{http.port}/status"
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    status = resp.status
            except urllib.error.HTTPError as err:
                status = err.code
            assert status == (200 if setting == "local" and _has_bokeh() else 404)
    assert dashboard_address("local", True) == "127.0.0.1:0"
    assert dashboard_address("local", False) is None  # no bokeh: no dashboard
    assert dashboard_address("off", True) is None
    assert dashboard_address("0.0.0.0:8787", True) == "0.0.0.0:8787"  # asked explicitly
    for bad in ("anywhere", ":80", "h:99999", "h:x"):
        with pytest.raises(ValueError, match="use 'local'"):
            check_dashboard(bad)


def test_the_dashboard_setting_is_checked_in_the_configs() -> None:
    from pano.pipelines.eval import EvalConfig
    from pano.pipelines.ingest import IngestConfig

    with pytest.raises(ConfigError, match="dashboard"):
        from pano.config import load_config

        load_config(EvalConfig, None, {"store": "s.zarr", "dashboard": "everywhere"})
    cfg = IngestConfig.model_validate(
        {"videos": ".", "hm": "x.mat", "store": "s.zarr", "dashboard": "off"}
    )
    assert cfg.dashboard == "off"
