# The fork server behind moto.Start (zygote.go). A fresh moto_server spends about 2.5 s of CPU
# before its first answers (1.1 s importing moto and Flask, then 1.3 s building the app of
# each AWS service on its first request and loading botocore's model of it), and the suite
# starts one for each of about fifty tests. So one moto_server Python per test process,
# started with EKSIRSA_MOTO_ZYGOTE set, runs main below instead of moto's: it imports moto and this
# directory's extensions, answers one read-only request of each service the tests use, and
# then forks a server for each line {"port", "log", "paths"} read on stdin, writing the
# child's pid back. A child holds exactly what a new moto_server holds after those reads
# (moto creates the default VPC and loads IAM's managed policies on a backend's first use
# either way) and nothing another test did: each test still has its own server.
import ctypes
import json
import os
import random
import signal
import sys
import traceback

# A read-only request of each service the tests call, signed for the tests' region: moto's
# dispatcher picks the service from the credential scope (DomainDispatcherApplication).
_WARM = [
    ("iam", "POST", "/", "Action=ListRoles&Version=2010-05-08", None),
    ("sts", "POST", "/", "Action=GetCallerIdentity&Version=2011-06-15", None),
    ("ec2", "POST", "/", "Action=DescribeVpcs&Version=2016-11-15", None),
    ("autoscaling", "POST", "/", "Action=DescribeAutoScalingGroups&Version=2011-01-01", None),
    ("logs", "POST", "/", "{}", "Logs_20140328.DescribeLogGroups"),
    ("ssm", "POST", "/", "{}", "AmazonSSM.DescribeParameters"),
    ("eks", "GET", "/clusters", "", None),
    ("s3", "GET", "/", "", None),
]


def _warm(app):
    from werkzeug.test import Client

    client = Client(app)
    for service, method, path, body, target in _WARM:
        headers = {
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-west-2/%s/aws4_request, "
            "SignedHeaders=host, Signature=0" % service,
            "Content-Type": "application/x-www-form-urlencoded",
        }
        if target:
            headers["X-Amz-Target"] = target
            headers["Content-Type"] = "application/x-amz-json-1.1"
        elif method == "GET":  # REST services: EKS (rest-json), S3 (rest-xml)
            headers["Content-Type"] = "application/json" if service == "eks" else "application/xml"
        resp = client.open(path, method=method, data=body, headers=headers)
        if resp.status_code >= 400:
            raise RuntimeError("warm-up %s %s %s: %s %s" % (service, method, path, resp.status, resp.get_data(as_text=True)[:300]))


def _child(app, zygote_pid, req):
    try:
        os.setpgid(0, 0)
        # Die with the zygote (which dies with the test process), as moto.Start's Pdeathsig.
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != zygote_pid:
            os._exit(1)
        log = os.open(req["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
        signal.signal(signal.SIGINT, lambda *_: os._exit(0))
        os.environ["MOTO_PORT"] = str(req["port"])  # as moto.server.main sets it
        # The files this server's test writes (moto.go: publicParametersEnv, iamRateEnv,
        # controlPlanesEnv), read by the extensions at each call.
        paths = req["paths"]
        sys.modules["sitecustomize"]._PATH = paths["EKSIRSA_MOTO_PUBLIC_PARAMETERS"]
        sys.modules["sitecustomize"]._IAM_RATE_PATH = paths["EKSIRSA_MOTO_IAM_RATE"]
        sys.modules["eks_control_planes"]._PATH = paths["EKSIRSA_MOTO_CONTROL_PLANES"]
        os.environ.update(paths)
        # Forked generators repeat each other: every server its own ids.
        from moto.moto_api._internal import mock_random

        random.seed()
        mock_random.seed()
        from werkzeug.serving import run_simple

        run_simple("127.0.0.1", req["port"], app, threaded=True)
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(1)


def main(argv=None):
    """moto_server's entry point in the fork server (sitecustomize.py)."""
    try:
        serve()
    except BaseException:
        traceback.print_exc()
    os._exit(1)


def _memoize_dispatch(app):
    """Two answers moto 5.2.1 works out again on every request, though they never change
    once the servers' code is loaded (sitecustomize.py patches the classes at import, before
    any request): which backend serves a host (DomainDispatcherApplication.get_backend_for_host
    lists moto's package directory, an isdir per entry, then tries each service's URL
    patterns) and which actions a response class has (core/responses.py call_action runs
    utils.method_names_from_class, an inspect.getmembers of the class). Remembered, a request
    costs 1.1 ms of the dispatcher's CPU instead of 2.8 (ListRoles and DescribeVpcs through
    werkzeug's test client, 2026-12-07)."""
    import functools

    from moto.core import responses

    app.get_backend_for_host = functools.lru_cache(maxsize=None)(app.get_backend_for_host)
    responses.method_names_from_class = functools.lru_cache(maxsize=None)(responses.method_names_from_class)


def serve():
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = DomainDispatcherApplication(create_backend_app)
    _memoize_dispatch(app)
    app.debug = True  # as moto.server.main
    _warm(app)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the servers
    me = os.getpid()
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(app, me, req)
        sys.stdout.write("%d\n" % pid)
        sys.stdout.flush()
    os._exit(0)  # stdin closed: the test process is gone
