# test/integ/s3test.py - what the Python S3 tests (s3_*.py) share: the
# stage (started directly by make check, a test re-runs itself through
# s3_env.sh, which makes a cluster and starts agora-s3d), step and FAIL
# lines as lib.sh prints them, boto3 clients of the test user, and the
# check of an expected error.
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


def expect_error(code, status, fn, *a, **kw):
    """fn(*a, **kw) must fail with S3 error code (any, when None) and HTTP
    status, and say its request id."""
    from botocore.exceptions import ClientError

    try:
        fn(*a, **kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        st = e.response["ResponseMetadata"]["HTTPStatusCode"]
        if (code and got != code) or st != status:
            fail("%s %s: expected %s/%d, got %s/%d" % (fn.__name__, kw, code, status, got, st))
        if code and not e.response["ResponseMetadata"].get("RequestId"):
            fail("%s: error without a request id" % fn.__name__)
        return
    fail("%s %s: succeeded, expected %s" % (fn.__name__, kw, code))


def aws(*args):
    """awscli's s3api as the test user: its output, parsed as JSON when
    there is some."""
    import json
    import subprocess

    out = subprocess.run(["timeout", "60", "aws", "--endpoint-url", os.environ["S3_URL"],
                          "s3api"] + list(args), capture_output=True, text=True,
                         env=dict(os.environ, AWS_PAGER="",
                                  AWS_ACCESS_KEY_ID=os.environ["S3_ACCESS"],
                                  AWS_SECRET_ACCESS_KEY=os.environ["S3_SECRET"],
                                  AWS_DEFAULT_REGION="us-east-1"))
    if out.returncode:
        fail("aws s3api %s: exit %d: %s" % (" ".join(args), out.returncode, out.stderr.strip()))
    return json.loads(out.stdout) if out.stdout.strip() else None


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
