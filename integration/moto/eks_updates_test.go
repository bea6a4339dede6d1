package moto_test

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/eks-irsa/eks-irsa/integration/moto"
)

// The SDK and the aws CLI see EKS cluster updates on moto as the API reference describes them
// (integration/moto/eks_updates.py): UpdateClusterConfig answers an update with an id, its
// type and params; the cluster is UPDATING until DescribeUpdate says Successful; one update
// at a time, one type per request; the endpoint no-op, a step back of the authentication
// mode and unknown clusters or ids are refused by EKS's error names.
func TestEKSClusterUpdates(t *testing.T) {
	s := moto.Start(t)
	ctx := context.Background()
	c := eks.NewFromConfig(s.Config(""))
	createCluster(t, c, "demo", ekstypes.AuthenticationModeConfigMap)
	name := aws.String("demo")

	// waitDone polls DescribeUpdate as terraform-provider-aws's waitClusterUpdateSuccessful does.
	waitDone := func(id string) ekstypes.Update {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			got, err := c.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: name, UpdateId: aws.String(id)})
			if err != nil {
				t.Fatalf("DescribeUpdate %s: %v", id, err)
			}
			if got.Update.Status != ekstypes.UpdateStatusInProgress {
				return *got.Update
			}
		}
		t.Fatalf("update %s still InProgress after 30 s", id)
		return ekstypes.Update{}
	}
	params := func(u *ekstypes.Update) map[string]string {
		m := map[string]string{}
		for _, p := range u.Params {
			m[string(p.Type)] = aws.ToString(p.Value)
		}
		return m
	}

	logging := &ekstypes.Logging{ClusterLogging: []ekstypes.LogSetup{{Types: []ekstypes.LogType{"api", "audit"}, Enabled: aws.Bool(true)}}}
	out, err := c.UpdateClusterConfig(ctx, &eks.UpdateClusterConfigInput{Name: name, Logging: logging})
	if err != nil {
		t.Fatal(err)
	}
	u := out.Update
	if u == nil || aws.ToString(u.Id) == "" || u.Type != ekstypes.UpdateTypeLoggingUpdate || u.Status != ekstypes.UpdateStatusInProgress || u.CreatedAt == nil {
		t.Fatalf("UpdateClusterConfig(logging) answered %+v, want an InProgress LoggingUpdate with an id", u)
	}
	var sent struct {
		ClusterLogging []struct {
			Types   []string `json:"types"`
			Enabled bool     `json:"enabled"`
		} `json:"clusterLogging"`
	}
	if err := json.Unmarshal([]byte(params(u)["ClusterLogging"]), &sent); err != nil || len(sent.ClusterLogging) != 1 ||
		!slices.Equal(sent.ClusterLogging[0].Types, []string{"api", "audit"}) || !sent.ClusterLogging[0].Enabled {
		t.Errorf("ClusterLogging param %q (%v), want the request's logging", params(u)["ClusterLogging"], err)
	}
	if d, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: name}); err != nil || d.Cluster.Status != ekstypes.ClusterStatusUpdating {
		t.Errorf("cluster during the update: %v, %v; want UPDATING", clusterStatus(d), err)
	}
	busy := aws.Bool(false)
	if _, err := c.UpdateClusterConfig(ctx, &eks.UpdateClusterConfigInput{Name: name, ResourcesVpcConfig: &ekstypes.VpcConfigRequest{EndpointPublicAccess: busy}}); errorCode(err) != "ResourceInUseException" {
		t.Errorf("a second update while one is in progress: %v, want ResourceInUseException", err)
	}
	if done := waitDone(aws.ToString(u.Id)); done.Status != ekstypes.UpdateStatusSuccessful || done.Type != ekstypes.UpdateTypeLoggingUpdate {
		t.Errorf("the logging update ended %+v, want Successful", done)
	}
	if d, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: name}); err != nil || d.Cluster.Status != ekstypes.ClusterStatusActive {
		t.Errorf("cluster after the update: %v, %v; want ACTIVE", clusterStatus(d), err)
	}

	// Each kind of change has its own type and params.
	ids := []string{aws.ToString(u.Id)}
	for _, tc := range []struct {
		in         eks.UpdateClusterConfigInput
		typ        ekstypes.UpdateType
		wantParams map[string]string
	}{
		{eks.UpdateClusterConfigInput{ResourcesVpcConfig: &ekstypes.VpcConfigRequest{EndpointPublicAccess: aws.Bool(true), EndpointPrivateAccess: aws.Bool(true), PublicAccessCidrs: []string{"203.0.113.0/24"}}},
			ekstypes.UpdateTypeEndpointAccessUpdate, map[string]string{"EndpointPublicAccess": "true", "EndpointPrivateAccess": "true", "PublicAccessCidrs": `["203.0.113.0/24"]`}},
		{eks.UpdateClusterConfigInput{ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-1", "subnet-2"}}},
			ekstypes.UpdateTypeVpcConfigUpdate, map[string]string{"Subnets": `["subnet-1","subnet-2"]`}},
		{eks.UpdateClusterConfigInput{ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SecurityGroupIds: []string{"sg-1"}}},
			ekstypes.UpdateTypeVpcConfigUpdate, map[string]string{"SecurityGroups": `["sg-1"]`}},
		{eks.UpdateClusterConfigInput{AccessConfig: &ekstypes.UpdateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApiAndConfigMap}},
			ekstypes.UpdateTypeAccessConfigUpdate, map[string]string{"AuthenticationMode": "API_AND_CONFIG_MAP"}},
	} {
		in := tc.in
		in.Name = name
		out, err := c.UpdateClusterConfig(ctx, &in)
		if err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		if out.Update.Type != tc.typ || !maps.Equal(params(out.Update), tc.wantParams) {
			t.Errorf("%s: answered type %s params %v, want %v", tc.typ, out.Update.Type, params(out.Update), tc.wantParams)
		}
		ids = append(ids, aws.ToString(out.Update.Id))
		waitDone(aws.ToString(out.Update.Id))
	}
	d, err := c.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Cluster.ResourcesVpcConfig; !v.EndpointPrivateAccess || !slices.Equal(v.SubnetIds, []string{"subnet-1", "subnet-2"}) ||
		!slices.Equal(v.SecurityGroupIds, []string{"sg-1"}) || d.Cluster.AccessConfig.AuthenticationMode != ekstypes.AuthenticationModeApiAndConfigMap {
		t.Errorf("the cluster after its updates: %+v, access %+v", v, d.Cluster.AccessConfig)
	}
	list, err := c.ListUpdates(ctx, &eks.ListUpdatesInput{Name: name})
	if err != nil || !slices.Equal(list.UpdateIds, ids) {
		t.Errorf("ListUpdates: %v, %v; want %q", list, err, ids)
	}

	for _, tc := range []struct {
		name string
		in   eks.UpdateClusterConfigInput
		want string
	}{
		{"the endpoint as it is", eks.UpdateClusterConfigInput{Name: name, ResourcesVpcConfig: &ekstypes.VpcConfigRequest{EndpointPrivateAccess: aws.Bool(true)}}, "InvalidParameterException"},
		{"endpoint and subnets together", eks.UpdateClusterConfigInput{Name: name, ResourcesVpcConfig: &ekstypes.VpcConfigRequest{EndpointPrivateAccess: aws.Bool(false), SubnetIds: []string{"subnet-3"}}}, "InvalidParameterException"},
		{"logging and access together", eks.UpdateClusterConfigInput{Name: name, Logging: logging, AccessConfig: &ekstypes.UpdateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApi}}, "InvalidParameterException"},
		{"back to CONFIG_MAP", eks.UpdateClusterConfigInput{Name: name, AccessConfig: &ekstypes.UpdateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeConfigMap}}, "InvalidParameterException"},
		{"an unknown cluster", eks.UpdateClusterConfigInput{Name: aws.String("nope"), Logging: logging}, "ResourceNotFoundException"},
	} {
		if _, err := c.UpdateClusterConfig(ctx, &tc.in); errorCode(err) != tc.want {
			t.Errorf("UpdateClusterConfig with %s: %v, want %s", tc.name, err, tc.want)
		}
	}
	// Forward to API, then back to API_AND_CONFIG_MAP: refused (the ConfigMap cannot come back).
	out, err = c.UpdateClusterConfig(ctx, &eks.UpdateClusterConfigInput{Name: name, AccessConfig: &ekstypes.UpdateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApi}})
	if err != nil {
		t.Fatal(err)
	}
	waitDone(aws.ToString(out.Update.Id))
	if _, err := c.UpdateClusterConfig(ctx, &eks.UpdateClusterConfigInput{Name: name, AccessConfig: &ekstypes.UpdateAccessConfigRequest{AuthenticationMode: ekstypes.AuthenticationModeApiAndConfigMap}}); errorCode(err) != "InvalidParameterException" {
		t.Errorf("API back to API_AND_CONFIG_MAP: %v, want InvalidParameterException", err)
	}
	if _, err := c.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: name, UpdateId: aws.String("0f0e0d0c-0000-4000-8000-000000000000")}); errorCode(err) != "ResourceNotFoundException" {
		t.Errorf("DescribeUpdate of an unknown id: %v, want ResourceNotFoundException", err)
	}
	if _, err := c.DescribeUpdate(ctx, &eks.DescribeUpdateInput{Name: aws.String("nope"), UpdateId: aws.String(ids[0])}); errorCode(err) != "ResourceNotFoundException" {
		t.Errorf("DescribeUpdate on an unknown cluster: %v, want ResourceNotFoundException", err)
	}

	// The aws CLI reads the same update.
	cmd := exec.Command("aws", "eks", "describe-update", "--name", "demo", "--update-id", ids[1], "--output", "json")
	cmd.Env = s.Environ([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()})
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws eks describe-update: %v\n%s", err, raw)
	}
	var cli struct {
		Update struct{ ID, Status, Type string } `json:"update"`
	}
	if err := json.Unmarshal(raw, &cli); err != nil || cli.Update.ID != ids[1] || cli.Update.Status != "Successful" || cli.Update.Type != "EndpointAccessUpdate" {
		t.Errorf("aws eks describe-update: %+v (%v)\n%s", cli.Update, err, raw)
	}
}

func clusterStatus(d *eks.DescribeClusterOutput) ekstypes.ClusterStatus {
	if d == nil || d.Cluster == nil {
		return ""
	}
	return d.Cluster.Status
}
