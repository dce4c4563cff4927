#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The service address ([ha] service_ip) of a dataplane without a pair (role
# single, which serves it): the client namespace finds it by ARP at the
# dataplane's MAC, clients reach the broker through it with their connected
# sockets (every answer comes from the address they wrote to), a subscriber
# through it gets what a publisher sent to the node's own address, and a
# host list whose first entry is dead reaches the broker through the second.
. "$(dirname "$0")/lib.sh"
VIP=$T_NET.10
t_start --set "ha.service_ip=$VIP"

t_check "dataplane announces the service address" \
	grep -q "service address $VIP on port0" "$T_DIR/dp.log"
t_wait 5 grep -q "answering ARP for it (role single)" "$T_DIR/dp.log" ||
	t_fail "the service address is not answered in role single"

# A subscriber through the service address; publishers through both.
t_sub_bg "$T_DIR/vip.out" -h "$VIP" -t vip -C 30 -W 20 -v
sub=$T_LAST
t_wait 10 t_nsubs_is vip 1 || t_fail "subscriber through the service address not registered"
t_pub -t vip -m node -n 10 -a -q || t_fail "publish (acked) to the node address"
sl_cl "$T_TAG" "$SL_BUILD/client/sluice-pub" -h "$VIP" -t vip -m service -n 10 -a -q ||
	t_fail "publish (acked) through the service address"
# A list: the first entry answers nothing (no host), the second is the
# service address. --timeout bounds the wait on the dead one.
sl_cl "$T_TAG" "$SL_BUILD/client/sluice-pub" -h "$T_NET.99:9500,$VIP:9500" --timeout 500 \
	-t vip -m listed -n 10 -a -q || t_fail "publish (acked) through a host list"
wait "$sub"
t_eq "subscriber through the service address: exit status" "$?" 0
t_eq "subscriber through the service address: sequence 1..30" \
	"$(awk '{ print $2 }' "$T_DIR/vip.out" | tr '\n' ' ')" "$(seq -s ' ' 1 30) "
t_eq "subscriber: 10 of each publisher" \
	"$(awk '{ print $3 }' "$T_DIR/vip.out" | sort | uniq -c | awk '{ print $2 "=" $1 }' | tr '\n' ' ')" \
	"listed=10 node=10 service=10 "

# The client namespace resolved the service address to the dataplane's MAC.
mac_node=$(ip -n "$T_TAG-cl" neigh show "$T_NET.1" | awk '{ print $5 }')
mac_vip=$(ip -n "$T_TAG-cl" neigh show "$VIP" | awk '{ print $5 }')
t_check "service address at the dataplane's MAC ($mac_vip)" \
	test -n "$mac_vip" -a "$mac_vip" == "$mac_node"
t_done
