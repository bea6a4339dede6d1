# Loaded by moto_server's Python at start (moto.Start puts this file's directory on
# PYTHONPATH): serves public SSM parameters under /aws/service/eks/ that moto does not ship.
# Real SSM, and moto with it, refuses PutParameter on /aws/... ("No access to reserved
# parameter name"), so they are loaded the way moto loads its own /aws/service/ecs/ and
# ami-amazon-linux-latest trees: inside ParameterDict._check_loading_status, here from the
# JSON file {region: {name: value}} that Server.SeedEKSAMIParameters writes.
import json
import os

_PATH = os.environ.get("EKSIRSA_MOTO_PUBLIC_PARAMETERS")
_PREFIX = "/aws/service/eks/"

if _PATH:
    from collections import defaultdict

    from moto.core.utils import utcnow
    from moto.ssm import models as _ssm

    _orig = _ssm.ParameterDict._check_loading_status

    def _check_loading_status(self, key):
        _orig(self, key)
        key = str(key or "")
        if not (key.startswith(_PREFIX) or _PREFIX.startswith(key.rstrip("/") + "/")):
            return
        try:
            with open(_PATH) as f:
                seeded = json.load(f).get(self.region_name, {})
        except FileNotFoundError:
            return
        for name, value in seeded.items():
            versions = defaultdict.__getitem__(self, name)
            if versions and versions[-1].value == value:
                continue
            versions.append(
                _ssm.Parameter(
                    account_id=self.account_id,
                    name=name,
                    value=value,
                    parameter_type="String",
                    description=None,
                    allowed_pattern=None,
                    keyid=None,
                    last_modified_date=utcnow(),
                    version=len(versions) + 1,
                    data_type="aws:ec2:image",
                )
            )

    _ssm.ParameterDict._check_loading_status = _check_loading_status

# APIs moto does not serve, each module citing the API reference it follows.
import autoscaling_refresh  # noqa: E402,F401
import eks_cluster  # noqa: E402,F401
import eks_control_planes  # noqa: E402,F401  (each cluster its own control plane)
import eks_access_entries  # noqa: E402,F401  (EKS access entries and access policies)
import eks_pod_identity  # noqa: E402,F401  (EKS Pod Identity associations)
import eks_auth  # noqa: E402,F401  (EKS Auth's AssumeRoleForPodIdentity; after eks_pod_identity, whose associations it reads)
import eks_updates  # noqa: E402,F401  (UpdateClusterConfig's update, DescribeUpdate, ListUpdates)
import eks_addons  # noqa: E402,F401  (EKS add-ons: eks-pod-identity-agent; after eks_updates, whose DescribeUpdate it extends)
import ec2_launch_templates  # noqa: E402,F401  (the template's own tags stay out of its data)
import sts_presigned  # noqa: E402,F401  (a presigned request's signer is its X-Amz-Credential)
import sts_web_identity  # noqa: E402,F401  (AssumeRoleWithWebIdentity checks the token and the role's trust)

# IAM throttling, which moto does not do: once the file EKSIRSA_MOTO_IAM_RATE names holds
# "<burst>,<per second>" (Server.ThrottleIAM writes it), every IAM request takes a token from
# one bucket of <burst> tokens refilled at <per second>, and a request that finds it empty is
# refused as IAM refuses it. IAM "independently implement[s] a token bucket algorithm for
# throttling, in which a bucket of virtual tokens is refilled every second" (AWS Support,
# quoted in hashicorp/terraform-provider-aws#44853); the refusal is HTTP 400 with the query
# protocol's error body, code Throttling, message "Rate exceeded" (as IAM returned it in
# legion-platform/legion#807).
_IAM_RATE_PATH = os.environ.get("EKSIRSA_MOTO_IAM_RATE")

if _IAM_RATE_PATH:
    import threading
    import time
    import uuid

    from moto.iam import responses as _iam_responses

    _bucket = {"setting": None, "burst": 0.0, "per_second": 0.0, "tokens": 0.0, "at": 0.0}
    _bucket_lock = threading.Lock()

    def _take_token():
        try:
            with open(_IAM_RATE_PATH) as f:
                setting = f.read().strip()
        except FileNotFoundError:
            return True
        with _bucket_lock:
            now = time.monotonic()
            if setting != _bucket["setting"]:
                burst, per_second = (float(x) for x in setting.split(","))
                _bucket.update(setting=setting, burst=burst, per_second=per_second, tokens=burst, at=now)
            _bucket["tokens"] = min(_bucket["burst"], _bucket["tokens"] + (now - _bucket["at"]) * _bucket["per_second"])
            _bucket["at"] = now
            if _bucket["tokens"] < 1:
                return False
            _bucket["tokens"] -= 1
            return True

    # A held IAM action, for a test that must stop a client in the middle of an IAM call: once
    # the file "iam-hold" beside the throttle's file holds "<Action>,<seconds>"
    # (Server.HoldIAM writes it), a request for that action is answered that much later, then
    # carried out as usual. IAM's answers take seconds at times; this makes one take long on
    # purpose, so that "in flight" is a window and not a race.
    def _held(action):
        try:
            with open(os.path.join(os.path.dirname(_IAM_RATE_PATH), "iam-hold")) as f:
                held, _, seconds = f.read().strip().partition(",")
        except FileNotFoundError:
            return 0.0
        return float(seconds) if held == action else 0.0

    _orig_call_action = _iam_responses.IamResponse.call_action

    def _call_action(self):
        hold = _held(self._get_action())
        if hold > 0:
            time.sleep(hold)
        if not _take_token():
            body = (
                '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
                "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
                "<RequestId>%s</RequestId></ErrorResponse>" % uuid.uuid4()
            )
            return 400, {"Content-Type": "text/xml"}, body
        return _orig_call_action(self)

    _iam_responses.IamResponse.call_action = _call_action

# moto.Start's fork server (zygote.py, zygote.go): moto_server's script calls
# moto.server.main, which becomes the fork server's loop. (Not run from here: this file runs
# inside the interpreter's import of site, whose lock a server thread importing site would
# wait on for ever.)
if os.environ.get("EKSIRSA_MOTO_ZYGOTE"):
    import moto.server

    import zygote

    moto.server.main = zygote.main
