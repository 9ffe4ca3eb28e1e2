#!/bin/bash
# test/integ/pipeline_demo.sh - the three-protocol pipeline, driven by
# events: a JPEG PUT over S3 into photos/in/ fires an exec trigger
# (contrib/thumbnail-hook.sh) that reads it over NFS (nfs-ganesha
# re-exporting one agora-fused mount, libnfs's nfs-cp), makes a
# thumbnail and writes it back over NFS; the thumbnail is read over SMB
# (Samba sharing another agora-fused mount, another gateway, smbclient),
# byte-identical to what the hook made. No polling anywhere in the flow:
# the deliverer fires from the event log, and the test waits for the
# thumbnail's event with agora events --follow. Stored once: the
# cluster's logical bytes grow by the two files exactly, its stored
# bytes by no more than they hold. ganesha and smbd run in a network
# namespace of their own, the clients (the hook's too) in another.
. "$(dirname "$0")/lib.sh"

command -v aws >/dev/null || skip "awscli is not installed"
ganesha_require
smbd_require

# a python3 with PIL for the JPEG and the thumbnail (python3-pil); the
# hook makes a transformed JPEG without one
PYPIL=
for py in python3 /usr/bin/python3; do
	"$py" -c 'import PIL' 2>/dev/null && { PYPIL=$py; break; }
done

M=$T/mnt
M2=$T/mnt2
write_conf
ag mkfs >/dev/null || fail "mkfs exited $?"
metad_start
s3d_start
fused_start "$M"  # what ganesha exports
fused_start "$M2" # another gateway, what smbd shares
export AWS_PAGER=""
netns_pair
ganesha_conf "$M"
ganesha_start
smbd_start "$M2"

# the photo: one PIL draws, or a small real JPEG of this system
if [ -n "$PYPIL" ]; then
	"$PYPIL" - "$T/cat.jpg" <<'PY' || fail "PIL made no JPEG"
import sys
from PIL import Image, ImageDraw
im = Image.new("RGB", (1600, 1200))
d = ImageDraw.Draw(im)
for i in range(0, 1600, 40):
    d.rectangle([i, 0, i + 39, 1199], fill=(i % 256, (3 * i) % 256, 255 - i % 256))
d.ellipse([400, 200, 1200, 1000], fill=(250, 200, 40))
im.save(sys.argv[1], "JPEG", quality=92)
PY
else
	src=$(find /usr/share -name '*.jpg' -size +2k -size -2M 2>/dev/null | head -n 1)
	[ -n "$src" ] || skip "no python3-pil and no JPEG under /usr/share"
	cp "$src" "$T/cat.jpg"
fi
say "the photo: $(stat -c %s "$T/cat.jpg") bytes${PYPIL:+, thumbnails by PIL}"

step "the bucket, the trigger and the deliverer"
awsc s3 mb s3://photos >/dev/null || fail "mb photos"
# the hook writes out/ over NFS as root
mkdir "$M/photos/out" || fail "mkdir photos/out"
mkdir "$T/made"
ag trigger add thumbs --prefix /photos/in/ --suffix .jpg --on closed \
	--exec "THUMB_NFS='$V3' THUMB_QUERY='$Q3' THUMB_RUN='ip netns exec $NS_CLI' THUMB_KEEP='$T/made' THUMB_PYTHON='${PYPIL:-python3}' sh '$AGORA_SRCDIR/contrib/thumbnail-hook.sh'" ||
	fail "trigger add"
deliverer_start
declare -A before after
for k in logical_bytes unique_bytes; do before[$k]=$(ag status -b | sed -n "s/^$k //p"); done
since=$(($(ag events | tail -n 1 | sed 's/^{"seq":\([0-9]*\),.*/\1/') + 1))

step "a JPEG PUT over S3 is made a thumbnail over NFS, read over SMB"
# the events from here on, as they are committed: the test waits on them
coproc FOLLOW { exec "$AGORA" -c "$CONF" events --follow --since "$since"; }
started_pids+=("$FOLLOW_PID")
t0=$(date +%s%N)
awsc s3api put-object --bucket photos --key in/cat.jpg --body "$T/cat.jpg" >/dev/null ||
	fail "put in/cat.jpg"
thumb_ev=
while read -r -t 60 line <&"${FOLLOW[0]}"; do
	case $line in
	*'"type":"closed","path":"/photos/out/cat.jpg.thumb.jpg"'*)
		thumb_ev=$line
		break
		;;
	esac
done
t1=$(date +%s%N)
[ -n "$thumb_ev" ] || fail "no thumbnail after 60 s: $(tail -n 5 "$T/deliver.log"; ag events --since "$since" | cut -c 1-150)"
kill -TERM "$FOLLOW_PID"
say "S3 PUT to the thumbnail's commit over NFS: $(((t1 - t0) / 1000000)) ms"
grep -q '"protocol":"fuse"' <<<"$thumb_ev" || fail "the thumbnail did not come through the mount: $thumb_ev"
smb "cd photos/out; get cat.jpg.thumb.jpg $T/over-smb.jpg" >/dev/null ||
	fail "smbclient get exited $?"
say "read over SMB $(((($(date +%s%N) - t0)) / 1000000)) ms after the PUT"
cmp -s "$T/made/cat.jpg.thumb.jpg" "$T/over-smb.jpg" ||
	fail "SMB reads other bytes than the hook wrote"
cmp -s "$T/cat.jpg" "$T/over-smb.jpg" && fail "the hook wrote the photo unchanged"
if [ -n "$PYPIL" ]; then
	"$PYPIL" - "$T/over-smb.jpg" <<'PY' || fail "the thumbnail is no thumbnail"
import sys
from PIL import Image
with Image.open(sys.argv[1]) as im:
    assert im.format == "JPEG" and max(im.size) == 128, (im.format, im.size)
PY
fi
grep -q "^delivered thumbs seq=[0-9]* /photos/in/cat.jpg$" "$T/deliver.log" ||
	fail "the deliverer did not say so: $(cat "$T/deliver.log")"

step "stored once: the cluster grew by the two files, no copy"
for k in logical_bytes unique_bytes; do after[$k]=$(ag status -b | sed -n "s/^$k //p"); done
files=$(($(stat -c %s "$T/cat.jpg") + $(stat -c %s "$T/over-smb.jpg")))
grew=$((after[logical_bytes] - before[logical_bytes]))
[ "$grew" -eq "$files" ] || fail "logical bytes grew by $grew, the photo and its thumbnail are $files"
stored=$((after[unique_bytes] - before[unique_bytes]))
[ "$stored" -le "$files" ] || fail "unique bytes grew by $stored, more than the $files of the two files"
say "the photo and its thumbnail: $files bytes, the cluster's unique data grew by $stored"
deliverer_stop
fsck_clean
echo "PASS: pipeline_demo"
