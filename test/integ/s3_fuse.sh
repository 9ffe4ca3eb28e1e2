# test/integ/s3_fuse.sh - S3 and FUSE on one cluster: an S3 PUT reads
# through the mount; a file written (and then changed) over FUSE GETs
# byte-equal with the right ETag; metadata is xattrs both ways; a
# directory renamed over FUSE lists under its new prefix.
# shellcheck source=test/integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v aws >/dev/null || skip "awscli is not installed"
[ -x "$AGORA_BUILDDIR/fused/agora-fused" ] || skip "agora-fused is not built"

M=$T/mnt
write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start
s3d_start
fused_start "$M"
export AWS_PAGER=""
md5() { md5sum <"$1" | cut -c1-32; }

step "S3 PUT, read through the mount"
awsc s3 mb s3://fbk >/dev/null || fail "mb"
mkdata "$T/a" $((3 << 20)) random
awsc s3api put-object --bucket fbk --key x/y/a --body "$T/a" --metadata color=red >/dev/null ||
	fail "put"
cmp -s "$T/a" "$M/fbk/x/y/a" || fail "the mount reads different bytes"
[ "$(stat -c %s "$M/fbk/x/y/a")" = $((3 << 20)) ] || fail "size over FUSE"
command -v getfattr >/dev/null &&
	{ [ "$(getfattr --absolute-names --only-values -n user.color "$M/fbk/x/y/a")" = red ] ||
		fail "x-amz-meta is not user.color"; }

step "written over FUSE: GET equal, HEAD ETag is the MD5, listed"
mkdata "$T/b" $((2 << 20)) text
mkdir -p "$M/fbk/posix/dir"
cp "$T/b" "$M/fbk/posix/dir/b"
awsc s3 cp --no-progress s3://fbk/posix/dir/b "$T/b.s3" >/dev/null || fail "GET"
cmp -s "$T/b" "$T/b.s3" || fail "GET of a FUSE-written file differs"
etag=$(awsc s3api head-object --bucket fbk --key posix/dir/b --query ETag --output text)
[ "$etag" = "\"$(md5 "$T/b")\"" ] || fail "ETag $etag"
got=$(awsc s3api list-objects-v2 --bucket fbk --prefix posix/ --query 'Contents[].Key' --output text)
[ "$got" = "posix/dir/	posix/dir/b" ] || fail "listing: $got"

step "changed over FUSE: the ETag follows the data"
printf 'CHANGED' | dd of="$M/fbk/posix/dir/b" bs=1 seek=1000 conv=notrunc 2>/dev/null
cp "$M/fbk/posix/dir/b" "$T/b2"
etag=$(awsc s3api head-object --bucket fbk --key posix/dir/b --query ETag --output text)
[ "$etag" = "\"$(md5 "$T/b2")\"" ] || fail "ETag after a change: $etag"
command -v setfattr >/dev/null && {
	setfattr -n user.shape -v round "$M/fbk/posix/dir/b" || fail "setfattr"
	got=$(awsc s3api head-object --bucket fbk --key posix/dir/b --query Metadata.shape --output text)
	[ "$got" = round ] || fail "user.shape is not x-amz-meta-shape: $got"
}

step "a directory renamed over FUSE lists under its new prefix"
mv "$M/fbk/posix" "$M/fbk/moved"
got=$(awsc s3api list-objects-v2 --bucket fbk --prefix moved/ --query 'Contents[].Key' --output text)
[ "$got" = "moved/dir/	moved/dir/b" ] || fail "after rename: $got"
got=$(awsc s3api list-objects-v2 --bucket fbk --prefix posix/ --query 'Contents[].Key' --output text)
[ "$got" = None ] || fail "the old prefix still lists: $got"

step "S3 DELETE is seen through the mount"
awsc s3 rm s3://fbk/x/y/a >/dev/null || fail "rm"
# the kernel may keep a name for the mount's entry timeout
for ((i = 0; i < 50; i++)); do
	[ -e "$M/fbk/x/y/a" ] || break
	sleep 0.1
done
[ ! -e "$M/fbk/x/y/a" ] || fail "deleted object still in the mount after 5 s"

step "the gateways' private names stay out of the mount"
head -c 6M /dev/urandom >"$T/mp"
awsc s3api create-multipart-upload --bucket fbk --key pending >/dev/null ||
	fail "create-multipart-upload"
ls -a "$M" | grep -q '^\.agora-multipart$' && fail "the uploads directory shows"
[ ! -e "$M/.agora-multipart" ] || fail "the uploads directory can be looked up"
echo typed | awsc s3 cp - s3://fbk/typed --content-type text/plain >/dev/null ||
	fail "put with a Content-Type"
python3 - "$M" <<'PY' || fail "private names are reachable through the mount"
import errno, os, sys
root = sys.argv[1]
names = os.listxattr(root)
if any(n.startswith("agora.") for n in names):
    sys.exit("listed: %r" % names)
for call in (lambda: os.getxattr(root, "agora.s3.user.X"),
             lambda: os.setxattr(root, "agora.s3.user.X", b"s 0 0 x"),
             lambda: os.removexattr(root, "agora.s3.user.X")):
    try:
        call()
        sys.exit("a private xattr call succeeded")
    except OSError as e:
        if e.errno not in (errno.ENODATA, errno.EOPNOTSUPP):
            raise
# the core hides the uploads directory from the mount's handle: no
# listing shows it, and it can be neither made, removed nor renamed onto
for dirpath, dirs, files in os.walk(root):
    for n in dirs + files:
        if n == ".agora-multipart" and dirpath == root:
            sys.exit("a walk of the mount shows the uploads directory")
private = os.path.join(root, ".agora-multipart")
for call, want in ((lambda: os.mkdir(private), errno.EPERM),
                   (lambda: os.rmdir(private), errno.ENOENT),
                   (lambda: os.rename(os.path.join(root, "fbk"), private),
                    errno.EPERM),
                   (lambda: os.listdir(private), errno.ENOENT)):
    try:
        call()
        sys.exit("a call on the uploads directory succeeded")
    except OSError as e:
        if e.errno != want:
            sys.exit("%s where %s was wanted" % (errno.errorcode[e.errno],
                                                 errno.errorcode[want]))
# an S3 object's own attributes (agora.s3.*) stay the gateway's
obj = os.path.join(root, "fbk", "typed")
if any(n.startswith("agora.") for n in os.listxattr(obj)):
    sys.exit("an object's private xattrs are listed: %r" % os.listxattr(obj))
PY

fused_stop "$M"
s3d_alive
s3d_stop
step "fsck is clean"
fsck_clean
