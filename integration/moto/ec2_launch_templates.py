# CreateLaunchTemplate as EC2 answers it. Its top-level TagSpecifications are "The tags to
# apply to the launch template on creation. To tag the launch template, the resource type must
# be launch-template" (Amazon EC2 API Reference, API_CreateLaunchTemplate.html), while
# LaunchTemplateData.TagSpecifications are "The tags to apply to resources that are created
# during instance launch" (API_RequestLaunchTemplateData.html). moto 5.2's handler copies the
# former into the template's data, so DescribeLaunchTemplateVersions reported a
# "launch-template" tag specification that EC2 never returns and no launch applies; a
# provider that reads the data back (terraform-provider-aws flattens
# LaunchTemplateData.TagSpecifications into tag_specifications) then planned a change on
# every update. This is moto's handler without that copy: the template is tagged by the
# backend (LaunchTemplate.__init__ reads tag_spec["launch-template"]), its data is the
# request's.
from moto.core.responses import ActionResult
from moto.ec2.responses import launch_templates as _lt
from moto.ec2.utils import parse_user_data


def create_launch_template(self):
    name = self._get_param("LaunchTemplateName")
    version_description = self._get_param("VersionDescription")
    tag_spec = self._parse_tag_specification()

    parsed_template_data = self._get_param("LaunchTemplateData", {})
    parsed_template_data["UserData"] = parse_user_data(self._get_param("LaunchTemplateData.UserData"))
    self.error_on_dryrun()

    template = self.ec2_backend.create_launch_template(name, version_description, parsed_template_data, tag_spec)
    version = template.default_version()
    return ActionResult(
        {
            "LaunchTemplate": {
                "CreateTime": version.create_time,
                "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
                "DefaultVersionNumber": template.default_version_number,
                "LatestVersionNumber": version.number,
                "LaunchTemplateId": template.id,
                "LaunchTemplateName": template.name,
                "Tags": template.tags,
            },
        }
    )


_lt.LaunchTemplates.create_launch_template = create_launch_template
