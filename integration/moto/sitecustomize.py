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
