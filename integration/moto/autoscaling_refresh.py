# StartInstanceRefresh and DescribeInstanceRefreshes, which moto 5.2 does not serve, written
# from the Amazon EC2 Auto Scaling API Reference (API_StartInstanceRefresh.html,
# API_DescribeInstanceRefreshes.html, API_InstanceRefresh.html). moto replaces no instances, so
# a refresh is recorded as the API reports it and completes at once ("Successful"), keeping
# the Strategy and Preferences it was started with, so a test can read them back as on AWS.
import uuid

from moto.autoscaling import responses as _responses
from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

# {(account, region): [InstanceRefresh, ...]}, newest first (DescribeInstanceRefreshes
# "lists ... in descending order of StartTime").
_REFRESHES = {}


class InstanceRefreshInProgress(AutoscalingClientError):
    # StartInstanceRefresh Errors: "InstanceRefreshInProgress: The request failed because an
    # active instance refresh already exists for the specified Auto Scaling group."
    code = "InstanceRefreshInProgress"


def _key(self):
    return (self.current_account, self.region)


def start_instance_refresh(self):
    name = self._get_param("AutoScalingGroupName")
    if name not in self.autoscaling_backend.autoscaling_groups:
        raise ValidationError(f"AutoScalingGroup name not found - {name}")
    refreshes = _REFRESHES.setdefault(_key(self), [])
    if any(r["AutoScalingGroupName"] == name and r["Status"] in ("Pending", "InProgress") for r in refreshes):
        raise InstanceRefreshInProgress(f"An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.")
    now = utcnow()
    refresh = {
        "InstanceRefreshId": str(uuid.uuid4()),
        "AutoScalingGroupName": name,
        # Strategy: "The strategy to use for the instance refresh. The only valid value is Rolling."
        "Strategy": self._get_param("Strategy") or "Rolling",
        "Status": "Successful",
        "StatusReason": "",
        "StartTime": now,
        "EndTime": now,
        "PercentageComplete": 100,
        "InstancesToUpdate": 0,
        # Preferences as given; MinHealthyPercentage defaults to 90 when not set.
        "Preferences": dict(self._get_param("Preferences") or {}),
    }
    refresh["Preferences"].setdefault("MinHealthyPercentage", 90)
    refreshes.insert(0, refresh)
    return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})


def describe_instance_refreshes(self):
    name = self._get_param("AutoScalingGroupName")
    ids = self._get_param("InstanceRefreshIds") or []
    out = [
        r
        for r in _REFRESHES.get(_key(self), [])
        if r["AutoScalingGroupName"] == name and (not ids or r["InstanceRefreshId"] in ids)
    ]
    return ActionResult({"InstanceRefreshes": out})


_responses.AutoScalingResponse.start_instance_refresh = start_instance_refresh
_responses.AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes
