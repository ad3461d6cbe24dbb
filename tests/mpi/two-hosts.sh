#!/bin/sh
# The mpi backend across two hosts, made of this machine's network
# namespaces: the same mpiexec command with a hostfile that a cluster uses.
#
#   two-hosts.sh POOLBENCH MPIEXEC SUITE
#
# Host A is the root namespace, host B a new network namespace joined to it
# by a veth pair; each gets a host name of its own (a UTS namespace) and B
# also a boot id of its own (a private mount namespace over
# /proc/sys/kernel/random/boot_id), so that poolbench takes B's clock for
# another host's and measures its offset, as it must across real hosts.
# Open MPI "logs in" through an rsh agent (plm_rsh_agent) that enters the
# namespace where ssh would reach the host, and talks TCP over the veth
# (oob_tcp_if_include, btl_tcp_if_include). Then
#   mpiexec --hostfile H --map-by node -n 3 poolbench run --backend mpi ...
# puts rank 0 and rank 2 on A, rank 1 on B. The results must show both
# hosts, clock offsets, and every mpi case passed. Both "hosts" share this
# machine's PUs, so idle ranks nap (idle=sleep) rather than take turns
# spinning on them.
#
# Needs root with CAP_NET_ADMIN (ip netns), unshare and mount: skipped (77)
# where the machine will not let it make namespaces. Everything it made is
# removed on exit.
set -u
pb=$1 mpiexec=$2 suite=$3
[ "$(id -u)" -eq 0 ] || { echo "two-hosts: not root: skipped"; exit 77; }
command -v ip >/dev/null && command -v unshare >/dev/null ||
    { echo "two-hosts: ip or unshare missing: skipped"; exit 77; }
tag=pbm$$
ns=${tag}b net=10.$((($$ / 250) % 250)).$(($$ % 250))
dir=$(mktemp -d) || exit 1
cleanup() {
    ip netns del "$ns" 2>/dev/null
    ip link del "${tag}a" 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
if ! ip netns add "$ns" 2>/dev/null; then
    echo "two-hosts: cannot make a network namespace here: skipped"
    exit 77
fi
ip link add "${tag}a" type veth peer name "${tag}b" &&
    ip link set "${tag}b" netns "$ns" &&
    ip addr add "$net.1/24" dev "${tag}a" && ip link set "${tag}a" up &&
    ip netns exec "$ns" ip addr add "$net.2/24" dev "${tag}b" &&
    ip netns exec "$ns" ip link set "${tag}b" up &&
    ip netns exec "$ns" ip link set lo up || { echo "two-hosts: cannot wire the namespace"; exit 1; }

hosta=${tag}-a hostb=${tag}-b
echo "00000000-0000-0000-0000-00000000$$" >"$dir/boot_id"
cat >"$dir/agent" <<AGENT
#!/bin/sh
# rsh agent: "$hosta" is the root namespace, "$hostb" the network namespace $ns.
host=\$1
shift
case \$host in
$hosta) exec unshare --uts sh -c "hostname \$host && \$*" ;;
$hostb) exec ip netns exec $ns unshare --uts --mount sh -c \
            "mount --bind $dir/boot_id /proc/sys/kernel/random/boot_id && hostname \$host && \$*" ;;
*) echo "agent: unknown host \$host" >&2; exit 255 ;;
esac
AGENT
chmod +x "$dir/agent"
printf '%s slots=2\n%s slots=2\n' "$hosta" "$hostb" >"$dir/hostfile"

out=$dir/results.json
timeout -k 10 300 "$mpiexec" --hostfile "$dir/hostfile" --map-by node -n 3 \
    --mca plm_rsh_agent "$dir/agent" \
    --mca oob_tcp_if_include "$net.0/24" --mca btl_tcp_if_include "$net.0/24" \
    "$pb" run --backend mpi:idle=sleep --suite "$suite" --quiet --out "$out" >"$dir/log" 2>&1
rc=$?
if [ $rc -ne 0 ]; then
    echo "two-hosts: the run across hosts exited $rc:"
    cat "$dir/log"
    exit 1
fi
python3 - "$out" "$hosta" "$hostb" <<'CHECK'
import json, sys
doc = json.load(open(sys.argv[1]))
a, b = sys.argv[2], sys.argv[3]
bad = []
mpi = [c for c in doc["results"] if c["backend"].split(":")[0] == "mpi"]
if not mpi:
    bad.append("no mpi case")
for c in mpi:
    if c["outcome"] != "ok":
        bad.append("%s %s: %s" % (c["scenario"], c["params"], c["reason"]))
    info = c.get("backend_info", {})
    hosts = {h["host"]: h["ranks"] for h in info.get("hosts", [])}
    if hosts != {a: 2, b: 1}:
        bad.append("ranks per host %s, expected %s: 2, %s: 1" % (hosts, a, b))
    if not info.get("clock", "").startswith("offsets"):
        bad.append("clock: %s" % info.get("clock"))
    if c["scenario"] == "roundtrip":
        ref = c["metrics"].get("roundtrip", {}).get("floor", {})
        if ref.get("scenario") != "mpi_pingpong" or "ratio_to_floor" not in c["metrics"]["roundtrip"]:
            bad.append("mpi:idle=sleep roundtrip not held against mpi_pingpong: %s" % ref)
floors = [c for c in doc["results"] if c["scenario"] == "mpi_pingpong" and c["outcome"] == "ok"]
if not floors:
    bad.append("no MPI ping-pong floor across the hosts")
for line in bad:
    print("two-hosts: FAIL " + line)
print("two-hosts: %d mpi cases across %s and %s, %d problems" % (len(mpi), a, b, len(bad)))
sys.exit(1 if bad else 0)
CHECK
