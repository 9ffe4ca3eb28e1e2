# test/integ/s3test.py - what the Python S3 tests (s3_*.py) share: the
# stage (started directly by make check, a test re-runs itself through
# s3_env.sh, which makes a cluster and starts agora-s3d), step and FAIL
# lines as lib.sh prints them, and boto3 clients of the test user.
import os
import sys

steps = 0


def stage(test_file):
    """Re-run test_file through s3_env.sh unless a gateway is already up."""
    if "S3_URL" not in os.environ:
        path = os.path.abspath(test_file)
        env = os.path.join(os.path.dirname(path), "s3_env.sh")
        os.execvp("bash", ["bash", env, path])


def step(what):
    global steps
    steps += 1
    print("step %d: %s" % (steps, what), flush=True)


def done():
    print("ok: %d steps" % steps, flush=True)


def fail(what):
    print("FAIL: " + what, flush=True)
    sys.exit(1)


def client(**cfg):
    """boto3 for the test user: path-style, SigV4, no retries."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=os.environ["S3_URL"], region_name="us-east-1",
        aws_access_key_id=os.environ["S3_ACCESS"],
        aws_secret_access_key=os.environ["S3_SECRET"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                      signature_version="s3v4", **cfg))
