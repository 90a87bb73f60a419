#!/usr/bin/env bash
# Prunes a cargo target directory that is kept between builds (CI's build cache, a developer's
# CARGO_TARGET_DIR). Cargo never deletes an old artifact: every change to ofhnet leaves another
# 1.5-1.9 GB test or binary executable in <profile>/deps, and incremental caches grow without
# bound. After a few dozen builds the disk filled and the linker died with SIGBUS ("ld terminated
# with signal 7"), which failed CI (2026-12-06).
#
# What goes: in every <profile>/deps, all but the newest KEEP (default 3) executables of each name
# (test binaries and the ofhnet binary; the newest few cover the flex and tch builds), and all but
# the newest KEEP `libofhnet-*` libraries; every <profile>/incremental (CI builds with
# CARGO_INCREMENTAL=0; a developer's next build recreates it). Nothing else is touched, so
# dependencies stay compiled; a deleted artifact that is still wanted is rebuilt by cargo
# (a relink), never used stale.
#
# usage: scripts/prune-target.sh [TARGET_DIR]   (default $CARGO_TARGET_DIR, then ./target)
set -euo pipefail
target=${1:-${CARGO_TARGET_DIR:-target}}
keep=${KEEP:-3}
[ -d "$target" ] || { echo "prune-target: no directory $target, nothing to prune"; exit 0; }

before=$(du -sm "$target" | cut -f1)
for deps in "$target"/*/deps "$target"/*/*/deps; do
  [ -d "$deps" ] || continue
  # Executables named NAME-HASH (16 hex digits, no extension): group by NAME, newest first.
  find "$deps" -maxdepth 1 -type f -perm -u+x -regextype posix-extended \
    -regex '.*/[^/.]+-[0-9a-f]{16}' -printf '%T@ %p\n' |
    sort -rn | awk -v keep="$keep" '{
      n = $2; sub(/.*\//, "", n); sub(/-[0-9a-f]{16}$/, "", n)
      if (++seen[n] > keep) print $2
    }' | xargs -r rm -f
  # The workspace crate's own libraries (about 0.3 GB each), by extension.
  find "$deps" -maxdepth 1 -type f -regextype posix-extended \
    -regex '.*/libofhnet-[0-9a-f]{16}\.(rlib|rmeta)' -printf '%T@ %p\n' |
    sort -rn | awk -v keep="$keep" '{
      e = $2; sub(/.*\./, "", e)
      if (++seen[e] > keep) print $2
    }' | xargs -r rm -f
done
for inc in "$target"/*/incremental "$target"/*/*/incremental; do
  [ -d "$inc" ] && rm -rf "$inc"
done
after=$(du -sm "$target" | cut -f1)
free=$(df -Pm "$target" | awk 'NR == 2 {print $4}')
echo "prune-target: $target ${before} MiB -> ${after} MiB; ${free} MiB free on its disk"
if [ "$free" -lt 8192 ]; then
  echo "prune-target: warning: under 8 GiB free; a test build links about 2 GB per binary" >&2
fi
