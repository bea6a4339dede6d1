package recorder

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Invoke tokens the fakes answer: the only data sources the program calls.
const (
	GetPartition      = "aws:index/getPartition:getPartition"
	GetCallerIdentity = "aws:index/getCallerIdentity:getCallerIdentity"
	GetSSMParameter   = "aws:ssm/getParameter:getParameter"
	GetCertificate    = "tls:index/getCertificate:getCertificate"
)

// Fakes is a small, deterministic stand-in for AWS and the OIDC issuer's TLS chain. Every
// value a component reads back from AWS comes from here, so tests can assert that outputs are
// wired (the role ARN in an annotation is the fake role's ARN) rather than guessed.
type Fakes struct {
	Partition string
	AccountID string
	Region    string
	// IssuerID is the id EKS puts in the cluster's OIDC issuer URL.
	IssuerID string
	// AMI is the value of every SSM parameter (the EKS-optimized AMI id).
	AMI string
	// Chain is the OIDC issuer's certificate chain as tls.getCertificate lists it: the root
	// (the last certificate the server sends) first, the leaf last.
	Chain []FakeCertificate

	caOnce sync.Once
	caPEM  string
}

// FakeCertificate is one entry of the fake TLS chain.
type FakeCertificate struct {
	Subject         string
	SHA1Fingerprint string
	IsCA            bool
}

// DefaultFakes returns the fake cloud used by tests and the offline plan.
func DefaultFakes() *Fakes {
	return &Fakes{
		Partition: "aws",
		AccountID: "123456789012",
		Region:    "us-west-2",
		IssuerID:  "0123456789ABCDEF0123456789ABCDEF",
		AMI:       "ami-0abcdef1234567890",
		Chain: []FakeCertificate{
			{Subject: "CN=Fake Root CA", SHA1Fingerprint: "9e99a48a9960b14926bb7f3b02e22da2b0ab7280", IsCA: true},
			{Subject: "CN=Fake Intermediate CA", SHA1Fingerprint: "06b25927c42a721631c1efd9431e648fa62e1e39", IsCA: true},
			{Subject: "CN=oidc.eks.us-west-2.amazonaws.com", SHA1Fingerprint: "f5b7d1a3c2e4f60718293a4b5c6d7e8f90a1b2c3"},
		},
	}
}

// Issuer is the cluster's OIDC issuer URL, shaped as EKS returns it in
// cluster.identity.oidc.issuer (https://docs.aws.amazon.com/eks/latest/userguide/enable-iam-roles-for-service-accounts.html).
func (f *Fakes) Issuer() string {
	return fmt.Sprintf("https://oidc.eks.%s.amazonaws.com/id/%s", f.Region, f.IssuerID)
}

// Endpoint is the cluster's API endpoint, shaped as EKS's DescribeCluster returns it
// (https://docs.aws.amazon.com/eks/latest/APIReference/API_Cluster.html).
func (f *Fakes) Endpoint() string {
	return fmt.Sprintf("https://%s.gr7.%s.eks.amazonaws.com", f.IssuerID, f.Region)
}

// CAData is the base64 PEM of a real (self-signed, throwaway) CA certificate, so consumers
// that parse the kubeconfig's certificate-authority-data get a certificate.
func (f *Fakes) CAData() string {
	f.caOnce.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(1),
			Subject:               pkix.Name{CommonName: "kubernetes"},
			NotBefore:             time.Unix(0, 0),
			NotAfter:              time.Unix(0, 0).AddDate(100, 0, 0),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			panic(err)
		}
		f.caPEM = base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	})
	return f.caPEM
}

// ARN builds an ARN in the fake partition and account, in the format of
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html (S3 ARNs carry no
// account).
func (f *Fakes) ARN(service, region, resource string) string {
	account := f.AccountID
	if service == "s3" {
		account = ""
	}
	return fmt.Sprintf("arn:%s:%s:%s:%s:%s", f.Partition, service, region, account, resource)
}

// physicalName is what AWS would call the resource: the name input when there is one, else
// the logical name (the real provider appends a random suffix; the fakes do not).
func physicalName(name string, in resource.PropertyMap) string {
	for _, key := range []resource.PropertyKey{"name", "roleName"} {
		if v, ok := in[key]; ok && v.IsString() && v.StringValue() != "" {
			return v.StringValue()
		}
	}
	return name
}

// fakeID is a stable AWS-looking id such as "subnet-1a2b3c4d5e6f7a8b".
func fakeID(prefix, name string) string {
	sum := sha256.Sum256([]byte(name))
	return prefix + "-" + hex.EncodeToString(sum[:])[:17]
}

// Resource returns the id and outputs a custom resource gets: its inputs plus what AWS
// computes for that type. Ids and output names mirror github.com/pulumi/pulumi-aws/sdk/v6@v6.83.4
// (each type's id is what its `import` section documents: a role and an instance profile by
// name, a log group by name, an OIDC provider by ARN, a cluster by name, an ASG by name).
func (f *Fakes) Resource(typ, name string, in resource.PropertyMap) (string, resource.PropertyMap) {
	out := in.Copy()
	set := func(k string, v any) {
		if _, ok := out[resource.PropertyKey(k)]; !ok {
			out[resource.PropertyKey(k)] = resource.NewPropertyValue(v)
		}
	}
	phys := physicalName(name, in)
	id := name + "-id"
	switch typ {
	case "aws:iam/role:Role":
		id = phys
		set("name", phys)
		set("arn", f.ARN("iam", "", "role/"+phys))
		set("uniqueId", strings.ToUpper(fakeID("AROA", phys)))
	case "aws:iam/policy:Policy":
		set("name", phys)
		id = f.ARN("iam", "", "policy/"+phys)
		set("arn", id)
	case "aws:iam/instanceProfile:InstanceProfile":
		id = phys
		set("name", phys)
		set("arn", f.ARN("iam", "", "instance-profile/"+phys))
	case "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
		url := strings.TrimPrefix(in["url"].StringValue(), "https://")
		id = f.ARN("iam", "", "oidc-provider/"+url)
		set("arn", id)
	case "aws:cloudwatch/logGroup:LogGroup":
		id = phys
		set("name", phys)
		set("arn", f.ARN("logs", f.Region, "log-group:"+phys))
	case "aws:eks/cluster:Cluster":
		id = phys
		set("name", phys)
		set("arn", f.ARN("eks", f.Region, "cluster/"+phys))
		set("endpoint", f.Endpoint())
		set("status", "ACTIVE")
		set("certificateAuthority", map[string]any{"data": f.CAData()})
		set("identities", []any{map[string]any{"oidcs": []any{map[string]any{"issuer": f.Issuer()}}}})
		set("kubernetesNetworkConfig", map[string]any{"serviceIpv4Cidr": "172.20.0.0/16", "ipFamily": "ipv4"})
		set("platformVersion", "eks.1")
	case "aws:ec2/vpc:Vpc":
		id = fakeID("vpc", name)
		set("arn", f.ARN("ec2", f.Region, "vpc/"+id))
		set("defaultSecurityGroupId", fakeID("sg", name+"-default"))
	case "aws:ec2/subnet:Subnet":
		id = fakeID("subnet", name)
		set("arn", f.ARN("ec2", f.Region, "subnet/"+id))
	case "aws:ec2/securityGroup:SecurityGroup":
		id = fakeID("sg", name)
		set("arn", f.ARN("ec2", f.Region, "security-group/"+id))
	case "aws:ec2/internetGateway:InternetGateway":
		id = fakeID("igw", name)
	case "aws:ec2/natGateway:NatGateway":
		id = fakeID("nat", name)
	case "aws:ec2/eip:Eip":
		id = fakeID("eipalloc", name)
		set("allocationId", id)
		set("publicIp", "203.0.113.10")
	case "aws:ec2/routeTable:RouteTable":
		id = fakeID("rtb", name)
	case "aws:ec2/vpcEndpoint:VpcEndpoint":
		id = fakeID("vpce", name)
	case "aws:ec2/flowLog:FlowLog":
		id = fakeID("fl", name)
	case "aws:ec2/launchTemplate:LaunchTemplate":
		id = fakeID("lt", name)
		set("latestVersion", 1)
		set("arn", f.ARN("ec2", f.Region, "launch-template/"+id))
	case "aws:autoscaling/group:Group":
		id = phys
		set("name", phys)
		set("arn", f.ARN("autoscaling", f.Region, "autoScalingGroup:"+phys))
	}
	if strings.HasPrefix(typ, "aws:") {
		set("arn", f.ARN(strings.SplitN(strings.TrimPrefix(typ, "aws:"), "/", 2)[0], f.Region, name))
		set("tagsAll", tagsOf(in))
	}
	return id, out
}

func tagsOf(in resource.PropertyMap) map[string]any {
	tags := map[string]any{}
	if v, ok := in["tags"]; ok && v.IsObject() {
		for k, t := range v.ObjectValue() {
			if t.IsString() {
				tags[string(k)] = t.StringValue()
			}
		}
	}
	return tags
}

// Invoke answers the data sources the program calls.
func (f *Fakes) Invoke(token string, args resource.PropertyMap) (resource.PropertyMap, error) {
	switch token {
	case GetPartition:
		// aws.GetPartition, github.com/pulumi/pulumi-aws/sdk/v6@v6.83.4/go/aws/getPartition.go.
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": f.Partition, "partition": f.Partition, "dnsSuffix": "amazonaws.com", "reverseDnsPrefix": "com.amazonaws",
		}), nil
	case GetCallerIdentity:
		// aws.GetCallerIdentity, github.com/pulumi/pulumi-aws/sdk/v6@v6.83.4/go/aws/getCallerIdentity.go
		// (the flow-log role's trust names the account).
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": f.AccountID, "accountId": f.AccountID, "userId": "AIDAFAKE",
			"arn": f.ARN("iam", "", "user/eks-irsa-plan"),
		}), nil
	case GetSSMParameter:
		// ssm.LookupParameter, github.com/pulumi/pulumi-aws/sdk/v6@v6.83.4/go/aws/ssm/getParameter.go,
		// on the public EKS AMI parameter
		// (https://docs.aws.amazon.com/eks/latest/userguide/retrieve-ami-id.html): its value is the AMI id.
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": args["name"].StringValue(), "name": args["name"].StringValue(), "type": "String",
			"value": f.AMI, "insecureValue": f.AMI,
		}), nil
	case GetCertificate:
		// tls.GetCertificate, github.com/pulumi/pulumi-tls/sdk/v5@v5.3.1/go/tls/getCertificate.go:
		// the chain listed root first, as the provider lists it (see Fakes.Chain).
		certs := make([]any, 0, len(f.Chain))
		for _, c := range f.Chain {
			certs = append(certs, map[string]any{
				"subject": c.Subject, "sha1Fingerprint": c.SHA1Fingerprint, "isCa": c.IsCA,
				"issuer": c.Subject, "serialNumber": "1", "signatureAlgorithm": "SHA256-RSA",
				"publicKeyAlgorithm": "RSA", "version": 3, "notBefore": "2024-01-01T00:00:00Z",
				"notAfter": "2034-01-01T00:00:00Z", "certPem": "",
			})
		}
		return resource.NewPropertyMapFromMap(map[string]any{
			"id": args["url"].StringValue(), "url": args["url"].StringValue(), "certificates": certs,
		}), nil
	}
	return nil, fmt.Errorf("recorder: no fake for invoke %s", token)
}
