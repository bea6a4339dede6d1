package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/eks-irsa/eks-irsa/integration/moto"
)

// What an interrupted create made is found in moto's EC2 by what the pending create holds:
// the NAT gateway and the interface endpoint by their exact tags (moto ignores tag filters,
// so a look-alike with other tags proves the check is made here), the launch template by
// the name the engine gave it.
func TestFindCreatedAgainstMoto(t *testing.T) {
	m := moto.Start(t)
	ctx := t.Context()
	c := ec2.NewFromConfig(m.Config(""))
	vpc, err := c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	vpcID := aws.ToString(vpc.Vpc.VpcId)
	subnet, err := c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpcID), CidrBlock: aws.String("10.0.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	subnetID := aws.ToString(subnet.Subnet.SubnetId)
	tagSpec := func(kind ec2types.ResourceType, name string) []ec2types.TagSpecification {
		return []ec2types.TagSpecification{{ResourceType: kind, Tags: []ec2types.Tag{
			{Key: aws.String("Name"), Value: aws.String(name)}, {Key: aws.String("Environment"), Value: aws.String("test")},
		}}}
	}
	var nats []string
	for _, name := range []string{"demo-nat", "someone-elses-nat"} {
		eip, err := c.AllocateAddress(ctx, &ec2.AllocateAddressInput{})
		if err != nil {
			t.Fatal(err)
		}
		nat, err := c.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(subnetID), AllocationId: eip.AllocationId,
			TagSpecifications: tagSpec(ec2types.ResourceTypeNatgateway, name)})
		if err != nil {
			t.Fatal(err)
		}
		nats = append(nats, aws.ToString(nat.NatGateway.NatGatewayId))
	}
	ep, err := c.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: aws.String(vpcID), ServiceName: aws.String("com.amazonaws.us-west-2.ecr.api"),
		VpcEndpointType: ec2types.VpcEndpointTypeInterface, TagSpecifications: tagSpec(ec2types.ResourceTypeVpcEndpoint, "demo-ecr.api")})
	if err != nil {
		t.Fatal(err)
	}
	lt, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("demo-workers-01aff20"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{InstanceType: ec2types.InstanceTypeT3Medium}})
	if err != nil {
		t.Fatal(err)
	}
	tags := func(name string) map[string]any { return map[string]any{"Name": name, "Environment": "test"} }

	for _, tc := range []struct {
		name string
		find func() ([]string, error)
		want []string
	}{
		{"NAT gateway by its tags", func() ([]string, error) {
			return natGatewaysByTags(ctx, c, map[string]any{"subnetId": subnetID, "tags": tags("demo-nat")})
		}, nats[:1]},
		{"no NAT gateway with these tags", func() ([]string, error) {
			return natGatewaysByTags(ctx, c, map[string]any{"subnetId": subnetID, "tags": tags("never-made")})
		}, nil},
		{"interface endpoint by its tags", func() ([]string, error) {
			return vpcEndpointsByTags(ctx, c, map[string]any{"vpcId": vpcID, "serviceName": "com.amazonaws.us-west-2.ecr.api", "tags": tags("demo-ecr.api")})
		}, []string{aws.ToString(ep.VpcEndpoint.VpcEndpointId)}},
		{"launch template by its name", func() ([]string, error) {
			return launchTemplatesByName(ctx, c, map[string]any{"name": "demo-workers-01aff20"})
		}, []string{aws.ToString(lt.LaunchTemplate.LaunchTemplateId)}},
		{"no launch template with this name", func() ([]string, error) {
			return launchTemplatesByName(ctx, c, map[string]any{"name": "demo-workers-9999999"})
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.find()
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("found %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// An EKS endpoint answering one Describe call (GET path) with the statuses a resource goes
// through, as the EKS API reference gives them (DescribeCluster's Cluster.status: CREATING,
// ACTIVE, DELETING, FAILED, UPDATING, PENDING; DescribeAddon's Addon.status: CREATING, ACTIVE,
// CREATE_FAILED, UPDATING, DELETING, DELETE_FAILED, DEGRADED, UPDATE_FAILED), "" being
// ResourceNotFoundException (HTTP 404). body is the answer, with %q for the status. moto
// makes every cluster and add-on ACTIVE at once, so it cannot show the wait.
func eksAnswering(t *testing.T, path, body string, statuses ...string) (*eks.Client, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(calls.Add(1)) - 1
		if r.Method != http.MethodGet || r.URL.Path != path {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusBadRequest)
			return
		}
		status := statuses[min(n, len(statuses)-1)]
		w.Header().Set("Content-Type", "application/json")
		if status == "" {
			w.Header().Set("X-Amzn-Errortype", "ResourceNotFoundException")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"message":"No resource found."}`)
			return
		}
		fmt.Fprintf(w, body, status)
	}))
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "us-west-2", Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", ""), BaseEndpoint: aws.String(srv.URL)}
	return eks.NewFromConfig(cfg), &calls
}

// awaitCase is one resource's statuses, one per Describe call, and what waiting on them gives.
type awaitCase struct {
	name      string
	statuses  []string
	want      []string
	wantCalls int32
	wantErr   string
}

func (tc awaitCase) check(t *testing.T, got []string, err error, calls *atomic.Int32) {
	t.Helper()
	if tc.wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("err = %v, want %q", err, tc.wantErr)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, tc.want) || calls.Load() != tc.wantCalls {
		t.Errorf("got %q after %d Describe calls, want %q after %d", got, calls.Load(), tc.want, tc.wantCalls)
	}
}

// A cluster found pending is imported only once ACTIVE (waited for through PENDING and
// CREATING, as the provider waits), never when it FAILED or is being deleted (the error names
// the command that deletes it), and not at all when it was never made.
func TestClusterWhenActive(t *testing.T) {
	for _, tc := range []awaitCase{
		{"created meanwhile", []string{"PENDING", "CREATING", "CREATING", "ACTIVE"}, []string{"demo"}, 4, ""},
		{"active", []string{"ACTIVE"}, []string{"demo"}, 1, ""},
		{"never made", []string{""}, nil, 1, ""},
		{"failed while creating", []string{"CREATING", "FAILED"}, nil, 2, "cluster demo is FAILED and cannot be adopted: delete it (aws eks delete-cluster --name demo)"},
		{"being deleted", []string{"DELETING"}, nil, 1, "cluster demo is DELETING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, calls := eksAnswering(t, "/clusters/demo", `{"cluster":{"name":"demo","status":%q}}`, tc.statuses...)
			got, err := clusterWhenActive(t.Context(), c, "demo", time.Millisecond)
			tc.check(t, got, err, calls)
		})
	}
}

// The Pod Identity agent's add-on found pending is imported as "<cluster>:<add-on>" once ACTIVE
// (waited for through CREATING and DEGRADED, as the provider's waitAddonCreated waits), never
// when its create failed or it is being deleted, and not at all when it was never made.
func TestAddonWhenActive(t *testing.T) {
	for _, tc := range []awaitCase{
		{"created meanwhile", []string{"CREATING", "DEGRADED", "ACTIVE"}, []string{"demo:eks-pod-identity-agent"}, 3, ""},
		{"active", []string{"ACTIVE"}, []string{"demo:eks-pod-identity-agent"}, 1, ""},
		{"never made", []string{""}, nil, 1, ""},
		{"failed to create", []string{"CREATING", "CREATE_FAILED"}, nil, 2,
			"add-on eks-pod-identity-agent of cluster demo is CREATE_FAILED and cannot be adopted: delete it (aws eks delete-addon --cluster-name demo --addon-name eks-pod-identity-agent)"},
		{"being deleted", []string{"DELETING"}, nil, 1, "add-on eks-pod-identity-agent of cluster demo is DELETING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, calls := eksAnswering(t, "/clusters/demo/addons/eks-pod-identity-agent", `{"addon":{"addonName":"eks-pod-identity-agent","clusterName":"demo","status":%q}}`, tc.statuses...)
			got, err := addonWhenActive(t.Context(), c, "demo", "eks-pod-identity-agent", time.Millisecond)
			tc.check(t, got, err, calls)
		})
	}
}

// A Pod Identity association an interrupted create made is found in moto's EKS by what it is
// for (cluster, namespace, service account: EKS holds one per account) and named as `pulumi
// import` takes it; one for another role is not adopted.
func TestFindPodIdentityAssociationAgainstMoto(t *testing.T) {
	m := moto.Start(t)
	ctx := t.Context()
	c := eks.NewFromConfig(m.Config(""))
	iamc := iam.NewFromConfig(m.Config(""))
	podsTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`
	for _, name := range []string{"app", "other"} {
		if _, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(podsTrust)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateCluster(ctx, &eks.CreateClusterInput{Name: aws.String("demo"), RoleArn: aws.String("arn:aws:iam::123456789012:role/cluster"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{}}); err != nil {
		t.Fatal(err)
	}
	made, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String("demo"),
		Namespace: aws.String("apps"), ServiceAccount: aws.String("web"), RoleArn: aws.String("arn:aws:iam::123456789012:role/app")})
	if err != nil {
		t.Fatal(err)
	}
	pending := func(account, role string) map[string]any {
		return map[string]any{"clusterName": "demo", "namespace": "apps", "serviceAccount": account, "roleArn": "arn:aws:iam::123456789012:role/" + role}
	}
	if got, err := podIdentityAssociationOf(ctx, c, pending("web", "app")); err != nil || !slices.Equal(got, []string{"demo," + aws.ToString(made.Association.AssociationId)}) {
		t.Errorf("the association made: %q, %v; want demo,%s", got, err, aws.ToString(made.Association.AssociationId))
	}
	if got, err := podIdentityAssociationOf(ctx, c, pending("jobs", "app")); err != nil || len(got) != 0 {
		t.Errorf("an account with none: %q, %v; want nothing (the update creates it)", got, err)
	}
	if got, err := podIdentityAssociationOf(ctx, c, pending("web", "other")); err == nil || !strings.Contains(err.Error(), "for role arn:aws:iam::123456789012:role/app") {
		t.Errorf("an association for another role: %q, %v; want an error naming it", got, err)
	}
}
