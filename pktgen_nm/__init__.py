"""pktgen-nm: netmap's pkt-gen on netmap_py, as commands and as a Python API.

    from pktgen_nm import Traffic, send, receive, ping, pong, bridge

The API lives in pktgen_nm.api (runs) and pktgen_nm.traffic (what is sent); the names
are loaded on first use, so the commands start without them.
"""
_API = {"Traffic": "traffic", "send": "api", "receive": "api", "ping": "api",
        "pong": "api", "Run": "api", "Result": "results", "Interval": "results",
        "SCHEMA": "results", "bridge": "bridging", "BridgeRun": "bridging"}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        import importlib
        return getattr(importlib.import_module(f"{__name__}.{_API[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
