"""The pktgen documentation's example script (its old pktgen.conf-1-1 style): the
unit tier reads it, the guest runs it on the pktgen module and on our kernel engine."""

SAMPLE = """#!/bin/bash
#modprobe pktgen
function pgset() {
    local result
    echo $1 > $PGDEV
    result=`cat $PGDEV | fgrep "Result: OK:"`
    if [ "$result" = "" ]; then
         cat $PGDEV | fgrep Result:
    fi
}
PGDEV=/proc/net/pktgen/kpktgend_0
echo "Removing all devices"
pgset "rem_device_all"
pgset "add_device eth1"
pgset "max_before_softirq 10000"
CLONE_SKB="clone_skb 1000000"
# NIC adds 4 bytes CRC
PKT_SIZE="pkt_size 60"
COUNT="count 10000000"
DELAY="delay 0"
PGDEV=/proc/net/pktgen/eth1
pgset "$COUNT"
pgset "$CLONE_SKB"
pgset "$PKT_SIZE"
pgset "$DELAY"
pgset "dst_min 10.10.11.2"
pgset "dst_max 10.10.11.20"
pgset "flag IPDST_RND"
pgset "udp_dst_min 1000"
pgset "udp_dst_max 1000"
pgset "dst_mac 00:04:23:08:91:dc"
PGDEV=/proc/net/pktgen/pgctrl
echo "Running... ctrl^C to stop"
trap true INT
pgset "start"
echo "Done"
"""
