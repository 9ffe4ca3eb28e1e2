# test/integ/s3_env.sh - run a Python S3 test (s3_*.py) against a fresh
# cluster and agora-s3d, then check the cluster: bash s3_env.sh TEST.py.
# The Python tests exec this when started without a gateway.
# shellcheck source=test/integ/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_name=$(basename "$1" .py)

write_conf
ag mkfs >/dev/null || fail "mkfs"
metad_start
s3d_start
export T CONF AGORA
timeout $((AGORA_TIMEOUT * 5)) python3 "$1" || fail "$test_name exited $?"
s3d_alive
s3d_stop
step "fsck is clean after the run"
fsck_clean
ag status | sed 's/^/# /'
