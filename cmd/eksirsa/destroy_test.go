package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/eks-irsa/eks-irsa/integration/moto"
	"github.com/eks-irsa/eks-irsa/stack"
)

// fakeLogGroups mirrors CloudWatch Logs DescribeLogGroups (logGroupNamePrefix, one page) and
// DeleteLogGroup (ResourceNotFoundException for a missing group) over a set of group names.
type fakeLogGroups struct {
	groups []string
	// describeErr is what DescribeLogGroups fails with, if anything.
	describeErr error
	// deleteErr is what DeleteLogGroup of an existing group fails with, if anything.
	deleteErr error
	calls     []string
	deleted   []string
}

func (f *fakeLogGroups) DescribeLogGroups(_ context.Context, in *cloudwatchlogs.DescribeLogGroupsInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DescribeLogGroupsOutput, error) {
	f.calls = append(f.calls, "DescribeLogGroups")
	if f.describeErr != nil {
		return nil, f.describeErr
	}
	out := &cloudwatchlogs.DescribeLogGroupsOutput{}
	for _, g := range f.groups {
		if strings.HasPrefix(g, aws.ToString(in.LogGroupNamePrefix)) {
			out.LogGroups = append(out.LogGroups, logtypes.LogGroup{LogGroupName: aws.String(g)})
		}
	}
	return out, nil
}

func (f *fakeLogGroups) DeleteLogGroup(_ context.Context, in *cloudwatchlogs.DeleteLogGroupInput, _ ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteLogGroupOutput, error) {
	f.calls = append(f.calls, "DeleteLogGroup")
	name := aws.ToString(in.LogGroupName)
	i := slices.Index(f.groups, name)
	if i < 0 {
		return nil, &logtypes.ResourceNotFoundException{Message: aws.String("The specified log group does not exist.")}
	}
	if f.deleteErr != nil {
		return nil, f.deleteErr
	}
	f.groups = slices.Delete(f.groups, i, i+1)
	f.deleted = append(f.deleted, name)
	return &cloudwatchlogs.DeleteLogGroupOutput{}, nil
}

const (
	testRegion       = "eu-west-1"
	testLogGroup     = "/aws/eks/demo-eks-oidc-test/cluster"
	testLBHostname   = "a1b2c3-123.eu-west-1.elb.amazonaws.com"
	testALBHostname  = "k8s-web-app-0a1b2c3d4e-123.eu-west-1.elb.amazonaws.com"
	removeLBsCommand = "eksirsa destroy --delete-load-balancers"
)

// destroyOutputs are the test stack's outputs with what destroy reads after the cluster: the
// region and the control-plane log group.
func destroyOutputs() auto.OutputMap {
	outs := testStackOutputs()
	outs[stack.OutRegion] = auto.OutputValue{Value: testRegion}
	outs[stack.OutClusterLogGroup] = auto.OutputValue{Value: testLogGroup}
	return outs
}

// loadBalancerObjects are what the cluster's controllers made AWS load balancers for: a
// Service of type LoadBalancer with its ELB's name, an Ingress of the AWS Load Balancer
// Controller, and a ClusterIP Service, which has none.
func loadBalancerObjects() []runtime.Object {
	return []runtime.Object{
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
			Status:     corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{Hostname: testLBHostname}}}},
		},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "internal", Namespace: "default"},
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP},
		},
		&networkingv1.IngressClass{
			ObjectMeta: metav1.ObjectMeta{Name: "alb"},
			Spec:       networkingv1.IngressClassSpec{Controller: lbcIngressController},
		},
		&networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "web"},
			Spec:       networkingv1.IngressSpec{IngressClassName: aws.String("alb")},
			Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
				Ingress: []networkingv1.IngressLoadBalancerIngress{{Hostname: testALBHostname}},
			}},
		},
	}
}

// unstructuredObject is a custom resource as the dynamic client returns it.
func unstructuredObject(apiVersion, kind, namespace, name string, spec map[string]any, finalizers ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind, "spec": spec}}
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetFinalizers(finalizers)
	return u
}

// gatewayObjects are an ALB Gateway of the controller (GatewayClass controllerName
// gateway.k8s.aws/alb), another controller's Gateway, and a TargetGroupBinding, with the
// controller's finalizers (pkg/shared_constants/finalizers.go).
func gatewayObjects() []runtime.Object {
	return []runtime.Object{
		unstructuredObject("gateway.networking.k8s.io/v1", "GatewayClass", "", "alb", map[string]any{"controllerName": lbcALBGatewayController}),
		unstructuredObject("gateway.networking.k8s.io/v1", "GatewayClass", "", "istio", map[string]any{"controllerName": "istio.io/gateway-controller"}),
		unstructuredObject("gateway.networking.k8s.io/v1", "Gateway", "web", "public", map[string]any{"gatewayClassName": "alb"}, lbcALBGatewayController),
		unstructuredObject("gateway.networking.k8s.io/v1", "Gateway", "mesh", "ingress", map[string]any{"gatewayClassName": "istio"}),
		unstructuredObject("elbv2.k8s.aws/v1beta1", "TargetGroupBinding", "web", "api", map[string]any{"targetGroupARN": "arn:aws:elasticloadbalancing:us-west-2:123456789012:targetgroup/api/0123456789abcdef"}, lbcTGBFinalizer),
	}
}

// newDynamic is the dynamic fake (client-go dynamic/fake, the dynamic client's own double)
// serving the Gateway API and TargetGroupBindings.
// Objects go in under their resource: the fake's guess from the kind makes "Gateway"
// "gatewaies".
func newDynamic(t *testing.T, objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	t.Helper()
	d := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		gatewayGVR: "GatewayList", gatewayClassGVR: "GatewayClassList", targetGroupBindingGVR: "TargetGroupBindingList",
	})
	for _, o := range objs {
		u := o.(*unstructured.Unstructured)
		gvr := map[string]schema.GroupVersionResource{"Gateway": gatewayGVR, "GatewayClass": gatewayClassGVR, "TargetGroupBinding": targetGroupBindingGVR}[u.GetKind()]
		if err := d.Tracker().Create(gvr, u, u.GetNamespace()); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// runningController is the AWS Load Balancer Controller's Deployment, as its Helm chart labels
// it, with an available replica.
func runningController() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "aws-load-balancer-controller", Namespace: "kube-system", Labels: map[string]string{"app.kubernetes.io/name": "aws-load-balancer-controller"}},
		Status:     appsv1.DeploymentStatus{AvailableReplicas: 2},
	}
}

func TestDestroy(t *testing.T) {
	t.Setenv(envBackendURL, "")
	listFails := func(c *fake.Clientset) {
		c.PrependReactor("list", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
			return true, nil, errors.New("dial tcp 10.0.1.5:443: connect: connection refused")
		})
	}
	// neverGone keeps the objects after a delete, as their finalizers do while the controller
	// cannot delete the AWS load balancer.
	neverGone := func(c *fake.Clientset) {
		c.PrependReactor("delete", "*", func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, nil })
	}
	// slowService keeps default/web for one check after its delete, as its finalizer does
	// until the controller has deleted the AWS load balancer.
	slowService := func(c *fake.Clientset) {
		checks := 0
		c.PrependReactor("get", "services", func(k8stesting.Action) (bool, runtime.Object, error) {
			if checks++; checks > 1 {
				return false, nil, nil // the tracker: gone
			}
			return true, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}}, nil
		})
	}
	tests := []struct {
		name      string
		args      []string
		outputs   auto.OutputMap
		objects   []runtime.Object
		custom    []runtime.Object // for the dynamic client
		react     func(*fake.Clientset)
		logGroups []string
		logs      fakeLogGroups // errors of the CloudWatch Logs fake
		wantCode  int
		wantCalls []string
		wantOut   []string
		wantErr   []string
		// lbsAtDestroy is how many load balancers the cluster had when Destroy was called.
		lbsAtDestroy int
		wantDeleted  []string // log groups deleted after the destroy
	}{
		{
			name: "no load balancers: destroys, the log group is gone", args: []string{"destroy", "-y"},
			outputs: destroyOutputs(), objects: healthyCluster(),
			wantCalls: []string{"outputs", "destroy"},
			wantOut:   []string{"Control-plane log group " + testLogGroup + " is gone.\n"},
		},
		{
			name: "load balancers present: refuses, naming them, destroys nothing", args: []string{"destroy", "-y"},
			outputs: destroyOutputs(), objects: loadBalancerObjects(),
			wantCode: exitLoadBalancers, wantCalls: []string{"outputs"},
			wantErr: []string{
				"stack test not destroyed: the cluster has 2 load balancers",
				"DependencyViolation",
				"  Ingress web/app (" + testALBHostname + ")\n",
				"  Service default/web (" + testLBHostname + ")\n",
				removeLBsCommand,
			},
		},
		{
			name: "--delete-load-balancers deletes them, waits, then destroys", args: []string{"destroy", "-y", "--delete-load-balancers"},
			outputs: destroyOutputs(), objects: loadBalancerObjects(),
			wantCalls: []string{"outputs", "destroy"},
			wantOut: []string{
				"Deleting Ingress web/app (" + testALBHostname + ")\n",
				"Deleting Service default/web (" + testLBHostname + ")\n",
				"  gone: Ingress web/app\n", "  gone: Service default/web\n",
			},
		},
		{
			name: "--delete-load-balancers waits, saying for what, until the last one is gone", args: []string{"destroy", "-y", "--delete-load-balancers", "--load-balancer-interval", "1ms"},
			outputs: destroyOutputs(), objects: loadBalancerObjects(), react: slowService,
			wantCalls: []string{"outputs", "destroy"},
			wantOut: []string{
				"  gone: Ingress web/app\nWaiting for 1 load balancers to be deleted (0s elapsed of 10m0s): Service default/web\n  gone: Service default/web\n",
			},
		},
		{
			name: "--delete-load-balancers gives up when they stay, destroying nothing", args: []string{"destroy", "-y", "--delete-load-balancers", "--load-balancer-wait", "1ms"},
			outputs: destroyOutputs(), objects: loadBalancerObjects(), react: neverGone,
			wantCode: exitFailure, wantCalls: []string{"outputs"},
			wantErr: []string{"after 1ms, 2 load balancers are still being deleted: Ingress web/app, Service default/web; nothing was destroyed"},
		},
		{
			name: "Gateways of the controller and TargetGroupBindings are refused; another controller's Gateway is left", args: []string{"destroy", "-y"},
			outputs: destroyOutputs(), objects: []runtime.Object{runningController()}, custom: gatewayObjects(),
			wantCode: exitLoadBalancers, wantCalls: []string{"outputs"},
			wantOut: []string{"Leaving Gateway mesh/ingress: no AWS load balancer controller owns it"},
			wantErr: []string{"the cluster has 2 load balancers", "  Gateway web/public\n", "  TargetGroupBinding web/api\n", removeLBsCommand},
		},
		{
			name: "--delete-load-balancers deletes Gateways and TargetGroupBindings too", args: []string{"destroy", "-y", "--delete-load-balancers"},
			outputs: destroyOutputs(), objects: []runtime.Object{runningController()}, custom: gatewayObjects(),
			wantCalls: []string{"outputs", "destroy"}, lbsAtDestroy: 1, // the left Gateway
			wantOut: []string{"Deleting Gateway web/public\n", "Deleting TargetGroupBinding web/api\n", "  gone: Gateway web/public\n", "  gone: TargetGroupBinding web/api\n"},
		},
		{
			name: "an Ingress of another class is listed and left", args: []string{"destroy", "-y"},
			outputs: destroyOutputs(), objects: []runtime.Object{&networkingv1.Ingress{
				ObjectMeta: metav1.ObjectMeta{Name: "site", Namespace: "web"},
				Spec:       networkingv1.IngressSpec{IngressClassName: aws.String("nginx")},
			}},
			wantCalls: []string{"outputs", "destroy"}, lbsAtDestroy: 1,
			wantOut: []string{"Leaving Ingress web/site: no AWS load balancer controller owns it"},
		},
		{
			name: "the controller's finalizers with no controller running: named with the command that releases each, nothing deleted", args: []string{"destroy", "-y", "--delete-load-balancers"},
			outputs: destroyOutputs(), custom: gatewayObjects(), objects: []runtime.Object{&corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Finalizers: []string{lbcServiceFinalizer}},
				Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: aws.String(lbcServiceClass)},
			}},
			wantCode: exitLoadBalancers, wantCalls: []string{"outputs"},
			wantErr: []string{
				"3 objects carry finalizers of the AWS Load Balancer Controller, which is not running",
				`release: kubectl patch service -n default web --type=merge -p '{"metadata":{"finalizers":null}}'`,
				`release: kubectl patch gateways.gateway.networking.k8s.io -n web public --type=merge -p '{"metadata":{"finalizers":null}}'`,
				`release: kubectl patch targetgroupbindings.elbv2.k8s.aws -n web api --type=merge -p '{"metadata":{"finalizers":null}}'`,
			},
		},
		{
			name: "the question names the load balancers it will delete", args: []string{"destroy", "--delete-load-balancers"},
			outputs: destroyOutputs(), objects: loadBalancerObjects(),
			wantCode: exitFailure, wantCalls: []string{"outputs"},
			wantOut: []string{"Delete 2 load balancers (Ingress web/app, Service default/web), then every resource of stack test? [y/N] "},
			wantErr: []string{"destroy cancelled"},
		},
		{
			name: "an unreachable cluster is refused", args: []string{"destroy", "-y"},
			outputs: destroyOutputs(), react: listFails,
			wantCode: exitFailure, wantCalls: []string{"outputs"},
			wantErr: []string{"cannot list the load balancers of cluster demo-eks-oidc-test: list services: dial tcp", "pass --skip-cluster-checks"},
		},
		{
			name: "--skip-cluster-checks destroys without listing", args: []string{"destroy", "-y", "--skip-cluster-checks"},
			outputs: destroyOutputs(), react: listFails,
			wantCalls: []string{"outputs", "destroy"},
			wantOut:   []string{"Not checking the cluster for load balancers (--skip-cluster-checks).\n"},
		},
		{
			name: "a stack that never made a cluster is destroyed", args: []string{"destroy", "-y"},
			wantCalls: []string{"outputs", "destroy"},
			wantOut: []string{
				"Stack test has no clusterName output: no cluster was created, so no load balancers to check.\n",
				"Stack test had no clusterLogGroupName output: no control-plane log group to check.\n",
			},
		},
		{
			name: "a log group EKS re-created is deleted", args: []string{"destroy", "-y"},
			outputs: destroyOutputs(), objects: healthyCluster(), logGroups: []string{testLogGroup, "/aws/eks/other/cluster"},
			wantCalls:   []string{"outputs", "destroy"},
			wantOut:     []string{"EKS re-created the control-plane log group " + testLogGroup + " while the cluster shut down; deleted it.\n"},
			wantDeleted: []string{testLogGroup},
		},
		{
			name: "a log group that cannot be checked is a warning after the destroy", args: []string{"destroy", "-y"},
			outputs: destroyOutputs(), logGroups: []string{testLogGroup},
			logs:      fakeLogGroups{describeErr: errors.New("operation error CloudWatch Logs: DescribeLogGroups, no such host")},
			wantCalls: []string{"outputs", "destroy"},
			wantErr: []string{
				"Warning: the stack is destroyed, but whether EKS re-created its control-plane log group " + testLogGroup + " could not be checked: operation error",
				"aws logs delete-log-group --region " + testRegion + " --log-group-name " + testLogGroup + "\n",
			},
		},
		{
			name: "a re-created log group that cannot be deleted fails the command", args: []string{"destroy", "-y"},
			outputs: destroyOutputs(), logGroups: []string{testLogGroup},
			logs:     fakeLogGroups{deleteErr: errors.New("AccessDeniedException: not authorized to perform: logs:DeleteLogGroup")},
			wantCode: exitFailure, wantCalls: []string{"outputs", "destroy"},
			wantErr: []string{"stack test destroyed, but EKS re-created its control-plane log group " + testLogGroup + " in " + testRegion +
				" and deleting it failed: AccessDeniedException"},
		},
		{
			name: "a group the name is only a prefix of is left alone", args: []string{"destroy", "-y"},
			outputs: destroyOutputs(), logGroups: []string{testLogGroup + "-old"},
			wantCalls: []string{"outputs", "destroy"},
			wantOut:   []string{"Control-plane log group " + testLogGroup + " is gone.\n"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(tc.objects...)
			if tc.react != nil {
				tc.react(client)
			}
			dyn := newDynamic(t, tc.custom...)
			logs := tc.logs
			logs.groups = slices.Clone(tc.logGroups)
			c := &cli{stack: &fakeStack{outputs: tc.outputs}, client: client, dyn: dyn, logs: &logs}
			lbsAtDestroy := -1
			c.stack.beforeDestroy = func() {
				lbs, err := listLoadBalancers(context.Background(), client, dyn)
				if err != nil {
					lbs = nil // the unreachable cluster: nothing to count
				}
				lbsAtDestroy = len(lbs)
			}
			code, stdout, stderr := c.run(t, tc.args...)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.wantCode, stderr)
			}
			if !slices.Equal(c.stack.calls, tc.wantCalls) {
				t.Errorf("stack calls %q, want %q", c.stack.calls, tc.wantCalls)
			}
			if slices.Contains(tc.wantCalls, "destroy") && lbsAtDestroy != tc.lbsAtDestroy {
				t.Errorf("%d load balancers left when destroy was called, want %d", lbsAtDestroy, tc.lbsAtDestroy)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout\n%s\nwant it to contain %q", stdout, w)
				}
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr\n%s\nwant it to contain %q", stderr, w)
				}
			}
			if !slices.Equal(c.logs.deleted, tc.wantDeleted) {
				t.Errorf("log groups deleted %q, want %q", c.logs.deleted, tc.wantDeleted)
			}
			// The log group is checked after a destroy in the stack's region, and only then.
			checked := slices.Contains(c.logs.calls, "DescribeLogGroups")
			if wantChecked := slices.Contains(tc.wantCalls, "destroy") && tc.outputs[stack.OutClusterLogGroup].Value != nil; checked != wantChecked {
				t.Errorf("log group checked %v, want %v (calls %q)", checked, wantChecked, c.logs.calls)
			}
			if checked && c.logsRegion != testRegion {
				t.Errorf("CloudWatch Logs client for region %q, want the region output %q", c.logsRegion, testRegion)
			}
		})
	}
}

// startMotoAsEnv starts moto and points the default credential chain at it, as the driver's
// own AWS configuration reads it: moto's endpoint and keys, no profile, no shared files.
func startMotoAsEnv(t *testing.T) *moto.Server {
	t.Helper()
	m := moto.Start(t)
	for _, kv := range m.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k) // t.Setenv restores it afterwards
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	return m
}

// The real client, made by the default configuration chain as the driver makes it, against
// moto's CloudWatch Logs: a re-created group is deleted, a group its name is a prefix of is
// kept, and a second check finds it gone.
func TestLogGroupCheckAgainstMoto(t *testing.T) {
	m := startMotoAsEnv(t)
	ctx := t.Context()
	seed := cloudwatchlogs.NewFromConfig(m.Config(""))
	for _, g := range []string{testLogGroup, testLogGroup + "-old"} {
		if _, err := seed.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(g)}); err != nil {
			t.Fatalf("create %s: %v", g, err)
		}
	}
	outs := destroyOutputs()
	outs[stack.OutRegion] = auto.OutputValue{Value: m.Region}
	// The repository's own project and test stack: no aws:endpoints, so moto is reached
	// through the environment's AWS_ENDPOINT_URL.
	opts := &options{stack: "test", dir: "../..", logGroups: cloudWatchLogs}
	for _, want := range []string{
		"EKS re-created the control-plane log group " + testLogGroup + " while the cluster shut down; deleted it.\n",
		"Control-plane log group " + testLogGroup + " is gone.\n",
	} {
		var out, errOut strings.Builder
		if err := removeRecreatedLogGroup(ctx, &out, &errOut, opts, outs); err != nil || out.String() != want || errOut.Len() > 0 {
			t.Errorf("check: %v, stdout %q, stderr %q; want stdout %q", err, out.String(), errOut.String(), want)
		}
	}
	left, err := seed.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range left.LogGroups {
		names = append(names, aws.ToString(g.LogGroupName))
	}
	if want := []string{testLogGroup + "-old"}; !slices.Equal(names, want) {
		t.Errorf("log groups left %q, want %q", names, want)
	}
}
