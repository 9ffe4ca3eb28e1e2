#!/bin/sh
# contrib/thumbnail-hook.sh - an exec trigger that makes a thumbnail of
# the JPEG its event names, over NFS: it reads the file through an NFS
# export of the cluster with libnfs's nfs-cp, scales it to fit
# THUMB_SIZE pixels (python3-pil), and writes the result back over NFS
# as THUMB_OUT/NAME.thumb.jpg. Where PIL is missing it writes the JPEG
# with a comment segment added instead, still a JPEG, so the flow runs
# anyway. Nothing polls: the deliverer runs it for each event.
#
#   agora trigger add thumbs --prefix /photos/in/ --suffix .jpg \
#       --on closed --exec 'THUMB_NFS=nfs://host/mnt/agora sh thumbnail-hook.sh'
#   agora trigger run --watch
#
# Environment: AGORA_EVENT_PATH, the path of the file in the cluster
# (set by the deliverer); THUMB_NFS, the libnfs URL of the cluster's
# root as the export shows it (nfs://SERVER/EXPORT-PATH); THUMB_QUERY,
# libnfs URL options (default version=3); THUMB_OUT, the directory of
# the thumbnails in the cluster (default: out/ beside in/); THUMB_SIZE
# (default 128); THUMB_PYTHON, a python3 with PIL (default python3);
# THUMB_RUN, a command the NFS clients run under (an ip netns exec ...);
# THUMB_KEEP, a local directory that keeps a copy of each file written.
set -eu

: "${AGORA_EVENT_PATH:?set by the deliverer}"
: "${THUMB_NFS:?the libnfs URL of the cluster root}"
: "${THUMB_QUERY:=version=3}"
: "${THUMB_OUT:=$(dirname "$(dirname "$AGORA_EVENT_PATH")")/out}"
: "${THUMB_SIZE:=128}"
: "${THUMB_PYTHON:=python3}"
: "${THUMB_RUN:=}"

name=$(basename "$AGORA_EVENT_PATH")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck disable=SC2086 # THUMB_RUN is a command and its words
$THUMB_RUN nfs-cp "$THUMB_NFS$AGORA_EVENT_PATH?$THUMB_QUERY" "$work/in.jpg" >/dev/null
"$THUMB_PYTHON" - "$work/in.jpg" "$work/out.jpg" "$THUMB_SIZE" <<'PY'
import sys
src, dst, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    from PIL import Image
except ImportError:
    data = open(src, "rb").read()
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    note = b"agora thumbnail-hook"
    com = b"\xff\xfe" + (len(note) + 2).to_bytes(2, "big") + note
    open(dst, "wb").write(data[:2] + com + data[2:])
else:
    with Image.open(src) as im:
        im.thumbnail((size, size))
        im.convert("RGB").save(dst, "JPEG", quality=85)
PY
# shellcheck disable=SC2086
$THUMB_RUN nfs-cp "$work/out.jpg" "$THUMB_NFS$THUMB_OUT/$name.thumb.jpg?$THUMB_QUERY" >/dev/null
if [ -n "${THUMB_KEEP:-}" ]; then
	cp "$work/out.jpg" "$THUMB_KEEP/$name.thumb.jpg"
fi
