package awsemu

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// TestImportByID reads a route, a route table association and a role policy attachment from
// the id `pulumi import` gives (the one eksirsa's recovery prints), with no prior state, as
// an import after a killed create does; the program's inputs then plan no change against
// what was imported.
func TestImportByID(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	subnets := testSubnets(t, h)
	vpc := vpcOfSubnet(t, h, subnets[0].(string))
	igw, err := h.c.EC2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	gw := aws.ToString(igw.InternetGateway.InternetGatewayId)
	if _, err := h.c.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(gw), VpcId: aws.String(vpc)}); err != nil {
		t.Fatal(err)
	}
	rt := h.create("aws:ec2/routeTable:RouteTable", "public", map[string]any{"vpcId": vpc})
	routeIn := map[string]any{"routeTableId": string(rt.id), "destinationCidrBlock": "0.0.0.0/0", "gatewayId": gw}
	assocIn := map[string]any{"routeTableId": string(rt.id), "subnetId": subnets[0]}
	if _, err := h.c.IAM.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("node"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	attachIn := map[string]any{"role": "node", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"}

	for _, tc := range []struct {
		token, importID string
		in              map[string]any
	}{
		{"aws:ec2/route:Route", string(rt.id) + "_0.0.0.0/0", routeIn},
		{"aws:ec2/routeTableAssociation:RouteTableAssociation", subnets[0].(string) + "/" + string(rt.id), assocIn},
		{"aws:iam/rolePolicyAttachment:RolePolicyAttachment", "node/arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy", attachIn},
	} {
		t.Run(tc.token, func(t *testing.T) {
			// The create the kill interrupted went through in AWS.
			if _, err := h.tryCreate(tc.token, "killed", tc.in); err != nil {
				t.Fatalf("create: %v", err)
			}
			resp, err := h.p.Read(ctx, plugin.ReadRequest{URN: urn(tc.token, "imported"), Name: "imported", Type: tokens.Type(tc.token),
				ID: resource.ID(tc.importID)})
			if err != nil {
				t.Fatalf("import %s: %v", tc.importID, err)
			}
			if resp.ID == "" {
				t.Fatalf("import %s: not found", tc.importID)
			}
			for k, v := range tc.in {
				if got := resp.Outputs[resource.PropertyKey(k)]; !got.IsString() || got.StringValue() != v {
					t.Errorf("import %s: %s = %v, want %v", tc.importID, k, got, v)
				}
			}
			r := &live{token: tc.token, name: "imported", id: resp.ID, inputs: resp.Inputs, outputs: resp.Outputs}
			h.expectDiff(r, tc.in, plugin.DiffNone, nil)
			// A refresh of the imported resource finds it again from its state.
			if again, err := h.refresh(r); err != nil || again.ID == "" {
				t.Errorf("refresh after import: %v %+v", err, again)
			}
		})
	}
	// An id that is none of these says what it wants.
	_, err = h.p.Read(ctx, plugin.ReadRequest{URN: urn("aws:ec2/route:Route", "bad"), Name: "bad", Type: "aws:ec2/route:Route", ID: "r-rtb-1234"})
	if err == nil {
		t.Error("import of a route by a bad id: no error")
	}
}
