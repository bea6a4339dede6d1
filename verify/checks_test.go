package verify

import (
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/eks-irsa/eks-irsa/irsa"
)

func TestChecks(t *testing.T) {
	awsNodeSA := func(c *cluster) *corev1.ServiceAccount {
		return c.sa(types.NamespacedName{Namespace: KubeSystem, Name: AWSNode})
	}
	tests := []struct {
		name   string
		check  string
		breaks func(*cluster)      // what differs from a healthy cluster
		want   func(*Expectations) // what differs from the test stack's expectations
		api    func(*fake.Clientset)
		// wantErr are substrings of the failure; none means the check must pass with a
		// summary containing wantSummary.
		wantErr     []string
		wantSummary string
	}{
		{
			name: "the cluster names the caller", check: CheckClusterAccess,
			wantSummary: "verify's credentials are user kubernetes-admin in groups [system:masters system:authenticated]",
		},
		{
			// What kube-apiserver answers when no access entry or aws-auth row maps the caller.
			name: "the cluster refuses the credentials", check: CheckClusterAccess,
			api: func(c *fake.Clientset) {
				c.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewUnauthorized("Unauthorized")
				})
			},
			wantErr: []string{"ask the cluster who verify is (SelfSubjectReview): Unauthorized"},
		},
		{
			name: "a review without a user", check: CheckClusterAccess,
			api: func(c *fake.Clientset) {
				c.PrependReactor("create", "selfsubjectreviews", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, &authenticationv1.SelfSubjectReview{}, nil
				})
			},
			wantErr: []string{"names no user"},
		},
		{name: "all nodes ready", check: CheckNodesReady, wantSummary: "2 of 2 nodes Ready"},
		{
			name: "a replaced node not ready yet beside the desired count", check: CheckNodesReady,
			breaks: func(c *cluster) {
				n := c.nodes[0].DeepCopy()
				n.Name = "ip-10-0-9-10.us-west-2.compute.internal"
				n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}
				c.nodes = append(c.nodes, n)
			},
			wantErr: []string{"2 of 3 nodes Ready", "not ready: ip-10-0-9-10.us-west-2.compute.internal (Ready=Unknown)", "want every node Ready"},
		},
		{
			name: "cluster-autoscaler scaled up within max", check: CheckNodesReady,
			breaks: func(c *cluster) {
				n := c.nodes[0].DeepCopy()
				n.Name = "ip-10-0-9-10.us-west-2.compute.internal"
				c.nodes = append(c.nodes, n)
			},
			wantSummary: "3 of 3 nodes Ready, within 1 to 3",
		},
		{
			name: "cluster-autoscaler scaled down to min", check: CheckNodesReady,
			breaks:      func(c *cluster) { c.nodes = c.nodes[:1] },
			wantSummary: "1 of 1 nodes Ready, within 1 to 3",
		},
		{
			name: "more nodes than max", check: CheckNodesReady,
			want:    func(e *Expectations) { e.MaxNodes = 1 },
			wantErr: []string{"2 of 2 nodes Ready; want every node Ready and 1 to 1 of them"},
		},
		{
			name: "one node not ready", check: CheckNodesReady,
			breaks: func(c *cluster) {
				c.nodes[1].Status.Conditions[1] = corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "KubeletNotReady"}
			},
			wantErr: []string{"1 of 2 nodes Ready", "ip-10-0-1-10.us-west-2.compute.internal (Ready=False KubeletNotReady)", "want every node Ready"},
		},
		{
			name: "node without a Ready condition", check: CheckNodesReady,
			breaks:  func(c *cluster) { c.nodes[0].Status.Conditions = nil },
			wantErr: []string{"ip-10-0-0-10.us-west-2.compute.internal (no Ready condition)"},
		},
		{
			name: "no nodes joined", check: CheckNodesReady,
			breaks:  func(c *cluster) { c.nodes = nil },
			wantErr: []string{"0 of 0 nodes Ready; want every node Ready and 1 to 3 of them"},
		},
		{
			name: "fewer nodes than min", check: CheckNodesReady,
			want:    func(e *Expectations) { e.MinNodes = 3 },
			wantErr: []string{"2 of 2 nodes Ready; want every node Ready and 3 to 3 of them"},
		},
		{
			name: "nodes cannot be listed", check: CheckNodesReady,
			api: func(c *fake.Clientset) {
				c.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
					return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", nil)
				})
			},
			wantErr: []string{"list nodes:", "forbidden"},
		},

		{name: "aws-node rolled out", check: CheckAWSNodeRollout, wantSummary: "generation 2 observed 2, desired 2 updated 2 available 2"},
		{
			name: "restart not yet observed", check: CheckAWSNodeRollout,
			breaks:  func(c *cluster) { c.ds.Generation = 3 },
			wantErr: []string{"generation 3 observed 2", "not rolled out, its spec not yet observed"},
		},
		{
			name: "rollout half way", check: CheckAWSNodeRollout,
			breaks:  func(c *cluster) { c.ds.Status.UpdatedNumberScheduled = 1 },
			wantErr: []string{"desired 2 updated 1 available 2"},
		},
		{
			name: "updated pods not available", check: CheckAWSNodeRollout,
			breaks:  func(c *cluster) { c.ds.Status.NumberAvailable = 1 },
			wantErr: []string{"desired 2 updated 2 available 1"},
		},
		{
			name: "no pods scheduled", check: CheckAWSNodeRollout,
			breaks: func(c *cluster) {
				c.ds.Status.DesiredNumberScheduled, c.ds.Status.UpdatedNumberScheduled, c.ds.Status.NumberAvailable = 0, 0, 0
			},
			wantErr: []string{"desired 0 updated 0 available 0", "no node runs it"},
		},
		{
			name: "no aws-node daemonset", check: CheckAWSNodeRollout,
			breaks:  func(c *cluster) { c.ds = nil },
			wantErr: []string{"get daemonset kube-system/aws-node", "not found"},
		},

		{name: "aws-node annotated", check: CheckAWSNodeAnnotation, wantSummary: "kube-system/aws-node eks.amazonaws.com/role-arn=" + testAWSNodeARN},
		{
			name: "aws-node annotation missing", check: CheckAWSNodeAnnotation,
			breaks:  func(c *cluster) { awsNodeSA(c).Annotations = nil },
			wantErr: []string{"kube-system/aws-node has no eks.amazonaws.com/role-arn annotation, want " + testAWSNodeARN},
		},
		{
			name: "aws-node annotated with another role", check: CheckAWSNodeAnnotation,
			breaks:  func(c *cluster) { awsNodeSA(c).Annotations[irsa.RoleARNAnnotation] = testSecretsARN },
			wantErr: []string{"kube-system/aws-node eks.amazonaws.com/role-arn=" + testSecretsARN + ", want " + testAWSNodeARN},
		},
		{
			name: "aws-node service account missing", check: CheckAWSNodeAnnotation,
			breaks:  func(c *cluster) { c.sas = c.sas[1:] },
			wantErr: []string{"service account kube-system/aws-node not found"},
		},

		{name: "aws-node pods carry credentials", check: CheckAWSNodeCredentials, wantSummary: "2 aws-node pods carry AWS_ROLE_ARN=" + testAWSNodeARN},
		{
			name: "terminating pod from before the annotation is ignored", check: CheckAWSNodeCredentials,
			breaks: func(c *cluster) {
				old := awsNodePod("aws-node-old", "")
				old.Spec.Containers[0].Env, old.Spec.Containers[0].VolumeMounts, old.Spec.Volumes = nil, nil, nil
				old.DeletionTimestamp, old.Finalizers = &metav1.Time{}, []string{"test/keep"}
				c.awsNode = append(c.awsNode, old)
			},
			wantSummary: "2 aws-node pods carry",
		},
		{
			name: "pod created before the annotation", check: CheckAWSNodeCredentials,
			breaks: func(c *cluster) {
				p := c.awsNode[1]
				p.Spec.Containers[0].Env = p.Spec.Containers[0].Env[:2]
				p.Spec.Containers[0].VolumeMounts = p.Spec.Containers[0].VolumeMounts[:1]
				p.Spec.Volumes = p.Spec.Volumes[1:]
			},
			wantErr: []string{
				"1 of 2 aws-node pods lack IRSA credentials",
				"pod aws-node-1: AWS_ROLE_ARN missing, want " + testAWSNodeARN,
				"AWS_WEB_IDENTITY_TOKEN_FILE missing, want " + irsa.TokenFile,
				"nothing mounted at " + irsa.TokenDir,
			},
		},
		{
			name: "pod carries the previous role", check: CheckAWSNodeCredentials,
			breaks:  func(c *cluster) { c.awsNode[0].Spec.Containers[0].Env[2].Value = testSecretsARN },
			wantErr: []string{"pod aws-node-0: AWS_ROLE_ARN=" + testSecretsARN + ", want " + testAWSNodeARN},
		},
		{
			name: "token for another audience", check: CheckAWSNodeCredentials,
			breaks: func(c *cluster) {
				c.awsNode[0].Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.Audience = "kubernetes.default.svc"
			},
			wantErr: []string{"volume aws-iam-token projects tokens [kubernetes.default.svc at " + irsa.TokenFile + "], want audience sts.amazonaws.com"},
		},
		{
			name: "token projected at another path than the env names", check: CheckAWSNodeCredentials,
			breaks: func(c *cluster) {
				c.awsNode[0].Spec.Volumes[0].Projected.Sources[0].ServiceAccountToken.Path = "eks-token"
			},
			wantErr: []string{"sts.amazonaws.com at " + irsa.TokenDir + "/eks-token], want audience sts.amazonaws.com at " + irsa.TokenFile},
		},
		{
			name: "token directory is not a projected volume", check: CheckAWSNodeCredentials,
			breaks: func(c *cluster) {
				c.awsNode[0].Spec.Volumes[0].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
			},
			wantErr: []string{"volume aws-iam-token at " + irsa.TokenDir + " is not projected"},
		},
		{
			name: "mount names a missing volume", check: CheckAWSNodeCredentials,
			breaks:  func(c *cluster) { c.awsNode[0].Spec.Volumes = c.awsNode[0].Spec.Volumes[1:] },
			wantErr: []string{"mount aws-iam-token at " + irsa.TokenDir + " names no volume"},
		},
		{
			name: "no aws-node container", check: CheckAWSNodeCredentials,
			breaks:  func(c *cluster) { c.awsNode[0].Spec.Containers[0].Name = "cni" },
			wantErr: []string{"pod aws-node-0: no container named aws-node"},
		},
		{
			name: "no aws-node pods", check: CheckAWSNodeCredentials,
			breaks:  func(c *cluster) { c.awsNode = nil },
			wantErr: []string{"no aws-node pods in kube-system"},
		},

		{name: "coredns running", check: CheckCoreDNSReady, wantSummary: "2 coredns pods Running and Ready"},
		{
			name: "coredns stuck without a CNI", check: CheckCoreDNSReady,
			breaks: func(c *cluster) {
				p := coreDNSPod("coredns-1", corev1.PodPending, false)
				p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "coredns", State: corev1.ContainerState{
					Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"},
				}}}
				c.coreDNS[1] = p
			},
			wantErr: []string{"1 of 2 coredns pods not Running and Ready: coredns-1 Pending (ContainerCreating)"},
		},
		{
			name: "coredns running but not ready", check: CheckCoreDNSReady,
			breaks:  func(c *cluster) { c.coreDNS[0] = coreDNSPod("coredns-0", corev1.PodRunning, false) },
			wantErr: []string{"coredns-0 Running"},
		},
		{
			name: "no coredns pods", check: CheckCoreDNSReady,
			breaks:  func(c *cluster) { c.coreDNS = nil },
			wantErr: []string{"no coredns pods in kube-system (selector k8s-app=kube-dns)"},
		},

		{name: "configured accounts annotated", check: CheckIRSAAccounts, wantSummary: "2 service accounts annotated"},
		{
			name: "no other accounts configured", check: CheckIRSAAccounts,
			breaks:      func(c *cluster) { c.sas = c.sas[:1] },
			want:        func(e *Expectations) { e.ServiceAccounts = nil },
			wantSummary: "no other IRSA service accounts configured",
		},
		{
			name: "one account unannotated, one missing", check: CheckIRSAAccounts,
			breaks: func(c *cluster) {
				c.sa(autoscalerSA).Annotations = nil
				c.sas = c.sas[:2]
			},
			wantErr: []string{
				"2 of 2 service accounts wrong",
				"service account external-secrets/external-secrets not found, want it annotated eks.amazonaws.com/role-arn=" + testSecretsARN,
				"kube-system/cluster-autoscaler has no eks.amazonaws.com/role-arn annotation, want " + testAutoscalerARN,
			},
		},
	}

	passes, fails := map[string]bool{}, map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.check+"/"+tc.name, func(t *testing.T) {
			c := healthy()
			if tc.breaks != nil {
				tc.breaks(c)
			}
			want := testExpectations()
			if tc.want != nil {
				tc.want(&want)
			}
			client := newClientset(c.objects()...)
			if tc.api != nil {
				tc.api(client)
			}
			summary, err := checkNamed(t, tc.check).Eval(t.Context(), client, want)
			if len(tc.wantErr) == 0 {
				passes[tc.check] = true
				if err != nil {
					t.Fatalf("check failed: %v", err)
				}
				if !strings.Contains(summary, tc.wantSummary) {
					t.Errorf("summary %q, want it to contain %q", summary, tc.wantSummary)
				}
				return
			}
			fails[tc.check] = true
			if err == nil {
				t.Fatalf("check passed (%s), want a failure", summary)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
	for _, c := range Checks() {
		if !passes[c.Name] || !fails[c.Name] {
			t.Errorf("check %s: pass case %v, fail case %v; want both", c.Name, passes[c.Name], fails[c.Name])
		}
	}
}

func checkNamed(t *testing.T, name string) Check {
	t.Helper()
	for _, c := range Checks() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check named %q", name)
	return Check{}
}

func TestExpectationsValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Expectations)
		wantErr []string
	}{
		{name: "test stack", change: func(*Expectations) {}},
		{
			name:    "no nodes",
			change:  func(e *Expectations) { e.MinNodes, e.MaxNodes = 0, 0 },
			wantErr: []string{"maximum node count is 0, want at least 1"},
		},
		{
			name:   "autoscaler may scale to zero",
			change: func(e *Expectations) { e.MinNodes = 0 },
		},
		{
			name:    "min above max",
			change:  func(e *Expectations) { e.MinNodes = 4 },
			wantErr: []string{"minimum node count is 4, want 0 to the maximum 3"},
		},
		{
			name:    "no aws-node role",
			change:  func(e *Expectations) { e.AWSNodeRoleARN = "" },
			wantErr: []string{"aws-node role ARN: empty"},
		},
		{
			name:    "a user is not a role",
			change:  func(e *Expectations) { e.AWSNodeRoleARN = "arn:aws:iam::123456789012:user/bob" },
			wantErr: []string{"is not an IAM role ARN"},
		},
		{
			name: "every problem at once",
			change: func(e *Expectations) {
				e.MaxNodes = -1
				e.AWSNodeRoleARN = "role/aws-node"
				e.ServiceAccounts[types.NamespacedName{Name: "cluster-autoscaler"}] = testAutoscalerARN
				e.ServiceAccounts[secretsSA] = "arn:aws:s3:::bucket"
			},
			wantErr: []string{
				"maximum node count is -1",
				"aws-node role ARN: arn 'role/aws-node' is invalid",
				`service account "/cluster-autoscaler": want namespace/name`,
				"service account external-secrets/external-secrets role ARN:",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := testExpectations()
			tc.change(&e)
			err := e.Validate()
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate passed, want an error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}
