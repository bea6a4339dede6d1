# SigV4 query-string authentication (IAM User Guide, "Authenticating Requests: Using Query
# Parameters (AWS Signature Version 4)"): a presigned request names its signer in
# X-Amz-Credential=<access key id>/<date>/<region>/<service>/aws4_request, not in an
# Authorization header. moto 5.2.1's BaseResponse.get_access_key reads only the header and
# SigV2's AWSAccessKeyId, so the presigned GetCallerIdentity that `aws eks get-token` makes,
# and that EKS's authenticator sends to STS (aws-iam-authenticator pkg/token Verify), came
# back as moto's default user in the default account. STS answers for the key that signed it.
from moto.core import responses as _responses

_get_access_key = _responses.BaseResponse.get_access_key


def get_access_key(self):
    if "Authorization" not in self.headers:
        credential = self.querystring.get("X-Amz-Credential")
        if credential and credential[0]:
            return credential[0].split("/")[0]
    return _get_access_key(self)


_responses.BaseResponse.get_access_key = get_access_key


# moto_server picks the service a request is for from its Authorization header's credential
# scope, and sends an unsigned-looking one (a presigned GET has no such header) to S3. A
# presigned request's scope is the same X-Amz-Credential: route by it.
from urllib.parse import parse_qs  # noqa: E402

from moto.moto_server import werkzeug_app as _app  # noqa: E402

_infer = _app.DomainDispatcherApplication.infer_service_region_host


def infer_service_region_host(self, environ, path):
    if not environ.get("HTTP_AUTHORIZATION"):
        credential = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential")
        if credential and credential[0].count("/") == 4:
            # Only for routing: the request itself keeps its headers.
            environ = dict(environ, HTTP_AUTHORIZATION=f"AWS4-HMAC-SHA256 Credential={credential[0]}, SignedHeaders=host, Signature=presigned")
    return _infer(self, environ, path)


_app.DomainDispatcherApplication.infer_service_region_host = infer_service_region_host
