"""The one errno-to-advice table: every backend's rows, the fallbacks, no gaps."""
import errno

import pytest

from netmap_py.advice import advice


@pytest.mark.parametrize("backend,err,what,name,text", [
    ("netmap-open", errno.ENOENT, "", "eth0", "modprobe netmap"),
    ("netmap-open", errno.EACCES, "", "eth0", "run as root"),
    ("netmap", errno.ENXIO, "register", "eth9", "no interface or netmap port named 'eth9'"),
    ("netmap", errno.EBUSY, "register", "vale0:a", "already registered"),
    ("netmap", errno.ENOMEM, "register", "eth0", "buf_num"),
    ("netmap", errno.EIO, "register", "eth0", "could not register eth0"),
    ("packet", errno.EPERM, "TX ring", "", "CAP_NET_RAW"),
    ("packet", errno.ENOBUFS, "RX ring", "", "fewer slots"),
    ("xdp", errno.EBUSY, "bind the socket", "", "another AF_XDP socket"),
    ("xdp", errno.EOPNOTSUPP, "attach", "", "(EOPNOTSUPP)"),
    ("xdp", errno.EIO, "attach", "", "cannot attach"),
    ("kernel", errno.EINVAL, "", "", "5.18"),
    ("kernel", errno.EPERM, "", "", "CAP_BPF"),
    ("kernel", errno.EIO, "", "", "BPF_PROG_RUN failed"),
])
def test_rows(backend, err, what, name, text):
    assert text in advice(backend, err, what, name)


def test_unknown_backend():
    with pytest.raises(ValueError, match="no advice table"):
        advice("carrier-pigeon", errno.EIO)
