#!/bin/sh
# access_cleanup.sh - removes what a killed hostile_access run may have left:
# users marked "plumb-hostile-access-test" (names plumbhx*), groups
# plumbhxg*, and its scratch directories /tmp/plumb-hacc-*.  Only as root;
# never touches anything without that mark or prefix.
[ "$(id -u)" = 0 ] || { echo "not root: nothing to clean"; exit 0; }
awk -F: '$1 ~ /^plumbhx[0-9]+$/ && $5 == "plumb-hostile-access-test" { print $1 }' \
  /etc/passwd | while read -r u; do userdel "$u" && echo "removed user $u"; done
awk -F: '$1 ~ /^plumbhxg[0-9]+$/ { print $1 }' /etc/group |
  while read -r g; do groupdel "$g" && echo "removed group $g"; done
for d in /tmp/plumb-hacc-*; do
  [ -d "$d" ] || continue
  pid=${d##*-}
  kill -0 "$pid" 2>/dev/null || { rm -rf "$d" && echo "removed $d"; }
done
exit 0
