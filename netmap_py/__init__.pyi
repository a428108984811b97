from . import checks as checks
from . import constants as constants
from ._core import Port as Port
from ._core import Ring as Ring
from ._core import Slot as Slot
from ._core import same_region as same_region
from .constants import *  # noqa: F403
from .portspec import PortSpec as PortSpec

__version__: str
POLLIN: int
POLLOUT: int
DEFAULT_SLOTS: int
DEFAULT_XDP_SLOTS: int
DEFAULT_BUF_SIZE: int

def open(portspec: str | PortSpec, *, slots: int | None = ..., buf_size: int | None = ...,
         rings: int | None = ..., accept_vnet_hdr: bool = ..., rx_ring_mb: int = ...,
         low_latency: bool = ..., vnet_hdr: int = ...) -> Port: ...

class Bridge:
    a: Port
    b: Port
    zero_copy: bool
    def __init__(self, a: Port, b: Port, *, burst: int = ..., batch_callback: object = ...,
                 copy: bool = ...) -> None: ...
    def drop_udp_port(self, port: int) -> None: ...
    def run(self, timeout_ms: int = ...) -> None: ...
    def stop(self) -> None: ...
    def counters(self) -> dict[str, dict[str, int]]: ...

def open_group(portspecs: list[str | PortSpec], *, slots: int | None = ...,
               low_latency: bool = ...) -> list[Port]: ...
def bridge(a: Port, b: Port, *, duration: float | None = ..., burst: int = ...,
           batch_callback: object = ..., copy: bool = ..., udp_drop_port: int | None = ...) -> Bridge: ...
