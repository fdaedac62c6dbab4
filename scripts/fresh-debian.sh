#!/usr/bin/env bash
# fresh-debian.sh [REPO] - runs the README's two commands on a minimal, fresh
# Debian 12, the way a new user would, and reports what they did.
#
#   sudo scripts/fresh-debian.sh            check the current checkout's HEAD
#   FRESH_BASE=/var/tmp/x scripts/fresh-debian.sh
#
# It makes once (cached in $FRESH_BASE/pristine, default /var/tmp/plumb-fresh)
# a `debootstrap --variant=minbase bookworm` chroot with nothing else in it,
# copies that into a throw-away root for every run, puts the *committed* tree
# there with `git archive HEAD` (uncommitted files and build folders do not
# travel), and runs `bash scripts/test.sh`, then `bash scripts/demo.sh`, with a
# clean environment and no standard input.  It prints one line per command
# with its exit status, and the test tally (`N passed, N failed`) counted from
# meson's results.  Logs stay in $FRESH_BASE/run/{test,demo}.log.
#
# Needs root (debootstrap, chroot, mounts) and Debian's package registry.
# Takes 10-20 minutes the first time (debootstrap + packages), less after.
# This is a check to run before stopping, not part of CI.
set -u
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
REPO=$(cd "${1:-.}" && git rev-parse --show-toplevel) ||
  { echo "fresh-debian: ${1:-.} is not a git checkout" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "fresh-debian: needs root (chroot, mounts)" >&2; usage >&2; exit 2; }
BASE=${FRESH_BASE:-/var/tmp/plumb-fresh}
P=$BASE/pristine
R=$BASE/run/root
mkdir -p "$BASE/run"

if [ ! -x "$P/bin/bash" ]; then
  if ! command -v debootstrap >/dev/null; then
    echo "fresh-debian: installing debootstrap on this machine"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; } \
      </dev/null >"$BASE/debootstrap-install.log" 2>&1 ||
      { echo "fresh-debian: cannot install debootstrap, see $BASE/debootstrap-install.log"; exit 1; }
  fi
  mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  [ -n "$mirror" ] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  rm -rf "$P"
  echo "fresh-debian: debootstrap --variant=minbase bookworm into $P ..."
  debootstrap --variant=minbase bookworm "$P" ${mirror:+"$mirror"} \
    >"$BASE/debootstrap.log" 2>&1 ||
    { echo "fresh-debian: debootstrap failed, see $BASE/debootstrap.log"; exit 1; }
fi

# Every mount under the run root, deepest first: /proc, /sys, /dev and any a
# test left (ip netns keeps /run/netns mounted, as it does on any machine).
umount_all() {
  awk -v r="$R" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts |
    sort -r | while read -r m; do umount -R "$m" 2>/dev/null || umount -l "$m"; done
}
trap umount_all EXIT
umount_all
rm -rf "$R"
[ ! -e "$R" ] || { echo "fresh-debian: cannot remove $R (still mounted?)" >&2; exit 1; }
cp -a "$P" "$R"
cp /etc/resolv.conf "$R/etc/" 2>/dev/null
mkdir -p "$R/root/plumb"
git -C "$REPO" archive HEAD | tar -x -C "$R/root/plumb"
echo "fresh-debian: $(git -C "$REPO" log -1 --format='%h %s') in a fresh bookworm minbase"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"; mount --make-rslave "$R/sys"
mount --rbind /dev "$R/dev"; mount --make-rslave "$R/dev"

run_in() { # command timeout-seconds
  timeout "$2" chroot "$R" /usr/bin/env -i HOME=/root LANG=C.UTF-8 CI=true \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c "cd /root/plumb && $1" </dev/null
}

start=$(date +%s)
run_in "bash scripts/test.sh" 3600 >"$BASE/run/test.log" 2>&1; t=$?
tally=$(chroot "$R" python3 /root/plumb/scripts/tally.py /root/plumb 2>/dev/null)
echo "scripts/test.sh: exit $t (${tally:-no test results}) in $(( $(date +%s) - start )) s"
[ $t = 0 ] || tail -8 "$BASE/run/test.log" | sed 's/^/    /'
start=$(date +%s)
run_in "bash scripts/demo.sh" 1800 >"$BASE/run/demo.log" 2>&1; d=$?
echo "scripts/demo.sh: exit $d in $(( $(date +%s) - start )) s"
sed 's/^/    /' "$BASE/run/demo.log" | grep -E '^    (unix|tcp|pipe|fifo|mq|sysvmq|shm) ' || true
[ $d = 0 ] || tail -8 "$BASE/run/demo.log" | sed 's/^/    /'
[ $t = 0 ] && [ $d = 0 ]
