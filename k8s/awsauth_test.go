package k8s

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	autharn "sigs.k8s.io/aws-iam-authenticator/pkg/arn"
	"sigs.k8s.io/aws-iam-authenticator/pkg/config"
	"sigs.k8s.io/aws-iam-authenticator/pkg/mapper/configmap"
)

var nodeGroups = []string{BootstrappersGroup, NodesGroup}

// TestAWSAuthParsesAsEKSDoes feeds the ConfigMap's data to aws-iam-authenticator's own parser
// and checks that a node's session resolves to the node mapping.
func TestAWSAuthParsesAsEKSDoes(t *testing.T) {
	cases := []struct {
		name string
		// args builds the args; roles made with newFakeRole deliver ARNs as Outputs.
		args      func(ctx *pulumi.Context) (*AWSAuthArgs, error)
		wantRoles []config.RoleMapping
		wantUsers []config.UserMapping
		// nodeSession is the ARN sts:GetCallerIdentity returns on a worker node.
		nodeSession string
	}{
		{
			name: "node role output only",
			args: func(ctx *pulumi.Context) (*AWSAuthArgs, error) {
				node, err := newFakeRole(ctx, "eks-node")
				return &AWSAuthArgs{NodeRoleARN: node.Arn}, err
			},
			wantRoles:   []config.RoleMapping{{RoleARN: fakeARN("eks-node"), Username: NodeUsername, Groups: nodeGroups}},
			wantUsers:   []config.UserMapping{},
			nodeSession: "arn:aws:sts::123456789012:assumed-role/eks-node/i-0abc",
		},
		{
			name: "node role with a path, an admin role and a CI user",
			args: func(ctx *pulumi.Context) (*AWSAuthArgs, error) {
				admin, err := newFakeRole(ctx, "Admin")
				return &AWSAuthArgs{
					NodeRoleARN: pulumi.String("arn:aws:iam::123456789012:role/eks/nodes/eks-node"),
					Roles:       []RoleMapping{{RoleARN: admin.Arn, Username: "admin:{{SessionName}}", Groups: []string{"system:masters"}}},
					Users:       []UserMapping{{UserARN: outputOf("arn:aws:iam::123456789012:user/ci/deployer"), Username: "deployer", Groups: []string{"deployers", "viewers"}}},
				}, err
			},
			wantRoles: []config.RoleMapping{
				{RoleARN: "arn:aws:iam::123456789012:role/eks-node", Username: NodeUsername, Groups: nodeGroups},
				{RoleARN: fakeARN("Admin"), Username: "admin:{{SessionName}}", Groups: []string{"system:masters"}},
			},
			// A user's canonical ARN keeps its path, so the mapping must too.
			wantUsers:   []config.UserMapping{{UserARN: "arn:aws:iam::123456789012:user/ci/deployer", Username: "deployer", Groups: []string{"deployers", "viewers"}}},
			nodeSession: "arn:aws:sts::123456789012:assumed-role/eks-node/i-0abc",
		},
		{
			name: "GovCloud partition, role path arriving as an Output, username that YAML must quote",
			args: func(ctx *pulumi.Context) (*AWSAuthArgs, error) {
				return &AWSAuthArgs{
					NodeRoleARN: outputOf("arn:aws-us-gov:iam::123456789012:role/team/eks-node"),
					Roles:       []RoleMapping{{RoleARN: pulumi.String("arn:aws-us-gov:iam::123456789012:role/sso-admin"), Username: "{{SessionName}}", Groups: []string{"system:masters"}}},
				}, nil
			},
			wantRoles: []config.RoleMapping{
				{RoleARN: "arn:aws-us-gov:iam::123456789012:role/eks-node", Username: NodeUsername, Groups: nodeGroups},
				{RoleARN: "arn:aws-us-gov:iam::123456789012:role/sso-admin", Username: "{{SessionName}}", Groups: []string{"system:masters"}},
			},
			wantUsers:   []config.UserMapping{},
			nodeSession: "arn:aws-us-gov:sts::123456789012:assumed-role/eks-node/i-0abc",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mapRoles, mapUsers string
			r := run(t, func(ctx *pulumi.Context) error {
				p, err := newTestProviders(ctx)
				if err != nil {
					return err
				}
				args, err := tc.args(ctx)
				if err != nil {
					return err
				}
				args.Provider = p.Apply
				auth, err := NewAWSAuth(ctx, "aws-auth", args)
				if err != nil {
					return err
				}
				capture(ctx, auth.MapRoles, &mapRoles)
				capture(ctx, auth.MapUsers, &mapUsers)
				return nil
			})

			cm := mustGet(t, r, configMapType, "aws-auth-configmap")
			if got := propString(cm.Inputs, "metadata", "name"); got != AWSAuthName {
				t.Errorf("ConfigMap name = %q, want %q", got, AWSAuthName)
			}
			if got := propString(cm.Inputs, "metadata", "namespace"); got != KubeSystemNamespace {
				t.Errorf("ConfigMap namespace = %q, want %q", got, KubeSystemNamespace)
			}
			data := map[string]string{
				MapRolesKey: propString(cm.Inputs, "data", MapRolesKey),
				MapUsersKey: propString(cm.Inputs, "data", MapUsersKey),
			}
			if data[MapRolesKey] != mapRoles || data[MapUsersKey] != mapUsers {
				t.Errorf("component outputs differ from the ConfigMap data:\noutputs %q %q\ndata    %q %q",
					mapRoles, mapUsers, data[MapRolesKey], data[MapUsersKey])
			}

			users, roles, accounts, err := configmap.ParseMap(data)
			if err != nil {
				t.Fatalf("ParseMap rejected the ConfigMap: %v\n%s", err, data[MapRolesKey])
			}
			if !reflect.DeepEqual(roles, tc.wantRoles) {
				t.Errorf("mapRoles parsed to\n%+v\nwant\n%+v\nYAML:\n%s", roles, tc.wantRoles, data[MapRolesKey])
			}
			if !reflect.DeepEqual(users, tc.wantUsers) {
				t.Errorf("mapUsers parsed to\n%+v\nwant\n%+v\nYAML:\n%s", users, tc.wantUsers, data[MapUsersKey])
			}
			if len(accounts) != 0 {
				t.Errorf("mapAccounts = %v, want none", accounts)
			}

			// The authenticator matches the node's canonical ARN against each mapping.
			typ, canonical, err := autharn.Canonicalize(tc.nodeSession)
			if err != nil || typ != autharn.ASSUMED_ROLE {
				t.Fatalf("Canonicalize(%s) = %v, %v", tc.nodeSession, typ, err)
			}
			var matched []string
			for _, m := range roles {
				if m.Matches(canonical) {
					matched = append(matched, m.Username)
				}
			}
			if !reflect.DeepEqual(matched, []string{NodeUsername}) {
				t.Errorf("node session %s (canonical %s) matched %v, want only the node mapping", tc.nodeSession, canonical, matched)
			}
		})
	}
}

// TestAWSAuthGraph checks what the component registers: one ConfigMap under the component,
// through the given provider, waiting for the node role; adoption forces and retains.
func TestAWSAuthGraph(t *testing.T) {
	cases := []struct {
		name       string
		adopt      bool
		wantForce  string // value of the patchForce annotation, "" for absent
		wantRetain bool
	}{
		{name: "default: conflict on someone else's aws-auth", adopt: false, wantForce: "", wantRetain: false},
		{name: "adopt: forced and retained", adopt: true, wantForce: "true", wantRetain: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, func(ctx *pulumi.Context) error {
				p, err := newTestProviders(ctx)
				if err != nil {
					return err
				}
				node, err := newFakeRole(ctx, "eks-node")
				if err != nil {
					return err
				}
				_, err = NewAWSAuth(ctx, "aws-auth", &AWSAuthArgs{Provider: p.Apply, NodeRoleARN: node.Arn, AdoptExisting: tc.adopt})
				return err
			})
			comp := mustGet(t, r, AWSAuthType, "aws-auth")
			children := r.Children(comp.URN)
			if len(children) != 1 || children[0].Type != configMapType {
				t.Fatalf("children of %s = %v, want one ConfigMap", comp.URN, children)
			}
			cm := children[0]
			checkProvider(t, r, cm)
			if got := propString(cm.Inputs, "metadata", "annotations", PatchFieldManagerAnnotation); got != FieldManager {
				t.Errorf("field manager annotation = %q, want %q", got, FieldManager)
			}
			if got := propString(cm.Inputs, "metadata", "annotations", PatchForceAnnotation); got != tc.wantForce {
				t.Errorf("patchForce annotation = %q, want %q", got, tc.wantForce)
			}
			if cm.RetainOnDelete != tc.wantRetain {
				t.Errorf("RetainOnDelete = %v, want %v", cm.RetainOnDelete, tc.wantRetain)
			}
			node := mustGet(t, r, iamRoleType, "eks-node")
			if !r.DependsOn(cm.URN, node.URN) {
				t.Errorf("ConfigMap does not wait for the node role")
			}
		})
	}
}

func TestAWSAuthValidation(t *testing.T) {
	const (
		nodeARN  = "arn:aws:iam::123456789012:role/eks-node"
		adminARN = "arn:aws:iam::123456789012:role/Admin"
	)
	admin := RoleMapping{RoleARN: pulumi.String(adminARN), Username: "admin", Groups: []string{"system:masters"}}
	cases := []struct {
		name    string
		noProv  bool
		args    *AWSAuthArgs
		wantErr []string // one per reported problem, in order
	}{
		{name: "nil args", args: nil, wantErr: []string{"args: required"}},
		{
			name:    "no provider, no node role",
			noProv:  true,
			args:    &AWSAuthArgs{},
			wantErr: []string{"Provider: required", "NodeRoleARN: required: an IAM role ARN (arn:<partition>:iam::<account-id>:role/<name>)"},
		},
		{
			name:    "node role is a user",
			args:    &AWSAuthArgs{NodeRoleARN: pulumi.String("arn:aws:iam::123456789012:user/bob")},
			wantErr: []string{`NodeRoleARN: "arn:aws:iam::123456789012:user/bob" is not an IAM role ARN`},
		},
		{
			name:    "node role is an assumed-role session",
			args:    &AWSAuthArgs{NodeRoleARN: pulumi.String("arn:aws:sts::123456789012:assumed-role/eks-node/i-0abc")},
			wantErr: []string{`NodeRoleARN: "arn:aws:sts::123456789012:assumed-role/eks-node/i-0abc" is not an IAM role ARN`},
		},
		{
			name:    "unknown partition",
			args:    &AWSAuthArgs{NodeRoleARN: pulumi.String("arn:aws-mars:iam::123456789012:role/eks-node")},
			wantErr: []string{`NodeRoleARN: "arn:aws-mars:iam::123456789012:role/eks-node" is not an IAM role ARN`},
		},
		{
			name: "role mapping without username or groups",
			args: &AWSAuthArgs{NodeRoleARN: pulumi.String(nodeARN), Roles: []RoleMapping{{RoleARN: pulumi.String(adminARN)}}},
			wantErr: []string{
				"Roles[0].Username: required",
				"Roles[0].Groups: at least one Kubernetes group is required",
			},
		},
		{
			name: "empty group name and missing ARN",
			args: &AWSAuthArgs{NodeRoleARN: pulumi.String(nodeARN), Roles: []RoleMapping{{Username: "ci", Groups: []string{"ci", " "}}}},
			wantErr: []string{
				"Roles[0].RoleARN: required",
				"Roles[0].Groups[1]: empty group name",
			},
		},
		{
			name: "role mapped twice, once through a path",
			args: &AWSAuthArgs{NodeRoleARN: pulumi.String(nodeARN), Roles: []RoleMapping{
				admin,
				{RoleARN: pulumi.String("arn:aws:iam::123456789012:role/ops/admin"), Username: "ops", Groups: []string{"ops"}},
			}},
			wantErr: []string{`Roles[1].RoleARN: "arn:aws:iam::123456789012:role/admin" is already mapped by Roles[0].RoleARN`},
		},
		{
			name: "extra mapping of the node role",
			args: &AWSAuthArgs{NodeRoleARN: pulumi.String(nodeARN), Roles: []RoleMapping{
				{RoleARN: pulumi.String(nodeARN), Username: "admin", Groups: []string{"system:masters"}},
			}},
			wantErr: []string{`Roles[0].RoleARN: "arn:aws:iam::123456789012:role/eks-node" is already mapped by NodeRoleARN`},
		},
		{
			name: "user mapping holding a role ARN",
			args: &AWSAuthArgs{NodeRoleARN: pulumi.String(nodeARN), Users: []UserMapping{
				{UserARN: pulumi.String(adminARN), Username: "admin", Groups: []string{"system:masters"}},
			}},
			wantErr: []string{`Users[0].UserARN: "arn:aws:iam::123456789012:role/Admin" is not an IAM user ARN (want arn:<partition>:iam::<account-id>:user/<name>)`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var gotErr error
			r := run(t, func(ctx *pulumi.Context) error {
				p, err := newTestProviders(ctx)
				if err != nil {
					return err
				}
				if tc.args != nil && !tc.noProv {
					tc.args.Provider = p.Apply
				}
				_, gotErr = NewAWSAuth(ctx, "aws-auth", tc.args)
				return nil
			})
			checkValidationError(t, gotErr, "aws-auth aws-auth: ", tc.wantErr)
			if objs := kubernetesObjects(r); len(objs) != 0 {
				t.Errorf("registered %d Kubernetes objects despite invalid args", len(objs))
			}
			if _, ok := r.Get(AWSAuthType, "aws-auth"); ok {
				t.Errorf("registered the component despite invalid args")
			}
		})
	}
}

// checkValidationError asserts that err reports exactly the wanted problems, in order: each
// line contains its wanted text.
func checkValidationError(t *testing.T, err error, prefix string, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	lines := errorLines(err)
	if !strings.HasPrefix(lines[0], prefix) {
		t.Errorf("error %q does not start with %q", lines[0], prefix)
	}
	lines[0] = strings.TrimPrefix(lines[0], prefix)
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.Contains(lines[i], want[i]) {
			t.Errorf("problem %d = %q, want it to contain %q", i, lines[i], want[i])
		}
	}
}

// TestAWSAuthRejectsBadOutputARN covers ARNs that are Outputs, unknown at validation: the
// program fails rather than writing a mapping that can never match.
func TestAWSAuthRejectsBadOutputARN(t *testing.T) {
	cases := []struct {
		name    string
		args    func() *AWSAuthArgs
		wantErr string
	}{
		{
			name:    "node role output is not a role",
			args:    func() *AWSAuthArgs { return &AWSAuthArgs{NodeRoleARN: outputOf("eks-node")} },
			wantErr: `mapRoles: "eks-node" is not an IAM role ARN`,
		},
		{
			name: "two role outputs resolve to the same role",
			args: func() *AWSAuthArgs {
				return &AWSAuthArgs{
					NodeRoleARN: outputOf("arn:aws:iam::123456789012:role/eks-node"),
					Roles:       []RoleMapping{{RoleARN: outputOf("arn:aws:iam::123456789012:role/x/EKS-Node"), Username: "u", Groups: []string{"g"}}},
				}
			},
			wantErr: `mapRoles: "arn:aws:iam::123456789012:role/EKS-Node" is mapped twice`,
		},
		{
			name: "user output is not a user",
			args: func() *AWSAuthArgs {
				return &AWSAuthArgs{
					NodeRoleARN: outputOf("arn:aws:iam::123456789012:role/eks-node"),
					Users:       []UserMapping{{UserARN: outputOf("arn:aws:iam::123456789012:root"), Username: "u", Groups: []string{"g"}}},
				}
			},
			wantErr: `mapUsers: "arn:aws:iam::123456789012:root" is not an IAM user ARN`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := recorderFor(t)
			err := r.Run(nil, func(ctx *pulumi.Context) error {
				p, err := newTestProviders(ctx)
				if err != nil {
					return err
				}
				args := tc.args()
				args.Provider = p.Apply
				_, err = NewAWSAuth(ctx, "aws-auth", args)
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("program error = %v, want it to contain %q", err, tc.wantErr)
			}
			if _, ok := r.Get(configMapType, "aws-auth-configmap"); ok {
				t.Errorf("the ConfigMap was registered with a bad mapping")
			}
		})
	}
}

func TestExplainAWSAuthConflict(t *testing.T) {
	conflict := errors.New(`updating urn:pulumi:test::eks-irsa::eksirsa:k8s:AwsAuth$kubernetes:core/v1:ConfigMap::aws-auth-configmap: ` +
		`1 error occurred: * the Kubernetes API server reported that "kube-system/aws-auth" failed to fully initialize or become live: ` +
		`Server-Side Apply field conflict detected. See https://www.pulumi.com/registry/packages/kubernetes/how-to-guides/managing-resources-with-server-side-apply/#handle-field-conflicts-on-existing-resources for troubleshooting help.` +
		"\nThe resource managed by field manager \"eks-irsa\" had an apply conflict: Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.mapRoles")
	other := errors.New(`Server-Side Apply field conflict detected on kube-system/coredns`)
	cases := []struct {
		name     string
		err      error
		wantHelp bool
	}{
		{name: "nil", err: nil},
		{name: "aws-auth conflict", err: conflict, wantHelp: true},
		{name: "wrapped aws-auth conflict", err: fmt.Errorf("up: %w", conflict), wantHelp: true},
		{name: "conflict on another object", err: other},
		{name: "unrelated", err: errors.New("aws-auth: connection refused")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ExplainAWSAuthConflict(tc.err)
			if tc.err == nil {
				if got != nil {
					t.Fatalf("got %v for nil", got)
				}
				return
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("the original error is not wrapped: %v", got)
			}
			if help := strings.Contains(got.Error(), AWSAuthConflictHelp); help != tc.wantHelp {
				t.Errorf("help included = %v, want %v:\n%v", help, tc.wantHelp, got)
			}
		})
	}
}
