package awsemu

import (
	"context"
	"os"
	"path/filepath"
	gostrings "strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/eks-irsa/eks-irsa/infra"
	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/integration/testbin"
	"github.com/eks-irsa/eks-irsa/integration/testcluster"
)

// TestNetworkThroughTheEngine runs the program's own Network component through the real
// Pulumi engine with the built plugin on PATH in place of pulumi-aws (flow log, its group,
// role and policy included): up, a second up that
// changes nothing, destroy in the engine's order, nothing left in the emulator. It needs only
// the Pulumi CLI from the toolchain directory.
func TestNetworkThroughTheEngine(t *testing.T) {
	toolsDir := os.Getenv(testcluster.ToolsBinEnv)
	if toolsDir == "" {
		t.Skipf("%s unset: the Pulumi CLI is needed (run tools/build)", testcluster.ToolsBinEnv)
	}
	cli := filepath.Join(toolsDir, "pulumi")
	if _, err := os.Stat(cli); err != nil {
		t.Fatalf("%s=%s: no pulumi CLI: %v", testcluster.ToolsBinEnv, toolsDir, err)
	}
	srv := moto.Start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()

	// <root>/bin holds the CLI and the plugin: the layout auto.PulumiCommandOptions.Root wants,
	// and the PATH the engine finds pulumi-resource-aws on.
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(cli, filepath.Join(bin, "pulumi")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testbin.Path(t, "pulumi-resource-aws"), filepath.Join(bin, "pulumi-resource-aws")); err != nil {
		t.Fatal(err)
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root, SkipVersionCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_CONFIG_PASSPHRASE":                    "awsemu",
		"PULUMI_BACKEND_URL":                          "file://" + filepath.Join(root, "backend"),
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PATH": bin + string(os.PathListSeparator) + os.Getenv("PATH"),
	}
	for _, kv := range srv.Env() {
		k, v, _ := gostrings.Cut(kv, "=")
		env[k] = v
	}
	for _, dir := range []string{filepath.Join(root, "backend"), filepath.Join(root, "home"), filepath.Join(root, "work")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	var network *infra.Network
	program := func(ctx *pulumi.Context) error {
		part, err := infra.LookupPartition(ctx)
		if err != nil {
			return err
		}
		network, err = infra.NewNetwork(ctx, "net", &infra.NetworkArgs{
			Partition: part, Region: "us-west-2", ClusterName: "emu",
			CIDR: "10.0.0.0/16", AvailabilityZones: []string{"us-west-2a", "us-west-2b"},
			PublicSubnets: []string{"10.0.1.0/24", "10.0.2.0/24"}, PrivateSubnets: []string{"10.0.101.0/24", "10.0.102.0/24"},
			NAT: infra.NATPerAZ, ECREndpoints: true, S3Endpoint: true,
			FlowLogs: true, FlowLogRoleName: "emu-flow-logs", LogRetentionDays: 30,
			Tags: map[string]string{"env": "test"},
		})
		if err != nil {
			return err
		}
		ctx.Export("vpcId", network.VpcID)
		ctx.Export("privateSubnetIds", network.PrivateSubnetIDs)
		return nil
	}
	s, err := auto.UpsertStackInlineSource(ctx, "test", "awsemu", program,
		auto.Pulumi(cmd), auto.PulumiHome(filepath.Join(root, "home")), auto.WorkDir(filepath.Join(root, "work")), auto.EnvVars(env),
		auto.Project(workspace.Project{Name: tokens.PackageName("awsemu"), Runtime: workspace.NewProjectRuntimeInfo("go", nil)}))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetConfig(ctx, "aws:region", auto.ConfigValue{Value: "us-west-2"}); err != nil {
		t.Fatal(err)
	}

	up, err := s.Up(ctx)
	if err != nil {
		t.Fatalf("up: %v", err)
	}
	vpcID, _ := up.Outputs["vpcId"].Value.(string)
	if !gostrings.HasPrefix(vpcID, "vpc-") {
		t.Fatalf("vpcId output %v", up.Outputs["vpcId"])
	}
	c, err := NewClients(ctx, srv.URL, "us-west-2", nil)
	if err != nil {
		t.Fatal(err)
	}
	nats, err := c.EC2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpcID}}}})
	if err != nil || len(nats.NatGateways) != 2 {
		t.Fatalf("NAT gateways in the VPC: %v %v, want one per AZ", nats, err)
	}
	flows, err := c.EC2.DescribeFlowLogs(ctx, &ec2.DescribeFlowLogsInput{Filter: []ec2types.Filter{{Name: aws.String("resource-id"), Values: []string{vpcID}}}})
	if err != nil || len(flows.FlowLogs) != 1 || aws.ToString(flows.FlowLogs[0].DeliverLogsPermissionArn) == "" {
		t.Errorf("flow logs of the VPC: %v %v, want one delivering through the role", flows, err)
	}

	again, err := s.Up(ctx)
	if err != nil {
		t.Fatalf("second up: %v", err)
	}
	for op, n := range *again.Summary.ResourceChanges {
		if op != string(apitype.OpSame) && n > 0 {
			t.Errorf("second up: %d %s, want every resource same (%v)", n, op, *again.Summary.ResourceChanges)
		}
	}

	if _, err := s.Destroy(ctx, optdestroy.Remove()); err != nil {
		t.Fatalf("destroy: %v", err)
	}
	if left := leftovers(t, srv); len(left) > 0 {
		t.Errorf("left in the emulator after destroy: %v", left)
	}
}
