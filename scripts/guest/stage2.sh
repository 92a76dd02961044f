#!/bin/bash
# Second stage in the guest: PID 1 after init's switch_root into the overlay
# root (the host's root, read-only below, tmpfs above), with the host's bash and
# util-linux. exec copies it into each run's work dir (/guest/work), so
# editing it needs no rebuild. Reads what exec wrote there (NUL-separated):
# args (original BINARY path, then ARGS), env (NAME=VALUE), cwd, tmpdirs;
# runs bin/BINARY with its output on the virtio ports guest.stdout/stderr and
# writes its exit code to rc; then powers off.
set -u
w=/guest/work
# PID 1 must not exit (panic): power off however this script ends.
trap 'sync; echo o >/proc/sysrq-trigger; sleep 60' EXIT
o=trans=virtio,version=9p2000.L,msize=512000

mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
ln -sf pts/ptmx /dev/ptmx
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t tmpfs -o mode=1777 tmp /tmp
mount -t tmpfs -o mode=755 run /run
mkdir -p /run/lock /run/netns
ln -sf /proc/self/fd /dev/fd
# The guest kernel's modules where modprobe (the host's kmod) looks for them:
# the kernel's own request_module() runs /sbin/modprobe.
k=$(uname -r)
mkdir -p "/lib/modules/$k"
mount -t 9p -o "$o,ro,cache=loose" modules "/lib/modules/$k"
hostname guest
ip link set lo up 2>/dev/null

# Top-level entries of the host's /tmp that the command refers to (its cwd,
# paths in its args such as go test's -test.testlogfile, TRANSFEROMETER_BIN)
# are bound, writable, over the guest's fresh /tmp.
mapfile -d '' -t T <"$w/tmpdirs"
if ((${#T[@]})); then
	mkdir -p /guest/hosttmp
	mount -t 9p -o "$o" hosttmp /guest/hosttmp
	for n in "${T[@]}"; do
		s=/guest/hosttmp/$n
		if [ -d "$s" ]; then mkdir -p "/tmp/$n"; elif [ -e "$s" ]; then : >"/tmp/$n"; else continue; fi
		mount --bind "$s" "/tmp/$n"
	done
fi

# The virtio ports appear a moment after the driver loads.
out="" err=""
for _ in $(seq 50); do
	for p in /sys/class/virtio-ports/*; do
		[ -e "$p/name" ] || continue
		case $(cat "$p/name") in
		guest.stdout) out=/dev/${p##*/} ;;
		guest.stderr) err=/dev/${p##*/} ;;
		esac
	done
	[ -n "$out" ] && [ -n "$err" ] && break
	sleep 0.1
done
if [ -z "$out" ] || [ -z "$err" ]; then echo "stage2: no virtio ports for stdout/stderr"; exit 1; fi

mapfile -d '' -t A <"$w/args"
mapfile -d '' -t E <"$w/env"
mapfile -d '' -t C <"$w/cwd"
(
	cd "${C[0]}" || { echo "guest: cannot cd to ${C[0]} (its host directory is not in the guest)" >&2; exit 126; }
	for v in $(compgen -e); do unset "$v"; done
	# shellcheck disable=SC2163 # each kv is NAME=VALUE
	for kv in "${E[@]}"; do export "$kv"; done
	exec -a "${A[0]}" "$w/bin/${A[0]##*/}" "${A[@]:1}"
) </dev/null >"$out" 2>"$err"
echo $? >"$w/rc.tmp"
mv "$w/rc.tmp" "$w/rc"
