package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/eks-irsa/eks-irsa/stack"
	"github.com/eks-irsa/eks-irsa/verify"
)

const (
	// defaultLoadBalancerWait covers the AWS Load Balancer Controller (or the in-tree cloud
	// provider) deleting an ALB/NLB/CLB and its security groups, which takes a minute or two.
	defaultLoadBalancerWait = 10 * time.Minute
	// clusterListTimeout bounds listing the load balancers, so an endpoint that no longer
	// answers is reported instead of hanging the destroy.
	clusterListTimeout = time.Minute
	// logGroupCheckTimeout bounds the post-destroy log group check (the SDK retries).
	logGroupCheckTimeout = time.Minute
)

// Kinds of Kubernetes object that make AWS load balancers.
const (
	kindService            = "Service"
	kindIngress            = "Ingress"
	kindGateway            = "Gateway"
	kindTargetGroupBinding = "TargetGroupBinding"
)

// What marks an object as the AWS Load Balancer Controller's, from its source
// (kubernetes-sigs/aws-load-balancer-controller): pkg/shared_constants/finalizers.go
// (ServiceFinalizer, ImplicitGroupFinalizer, ExplicitGroupFinalizerPrefix,
// ALBGatewayFinalizer, NLBGatewayFinalizer), pkg/gateway/constants/controller_constants.go
// (ALBGatewayController, NLBGatewayController), controllers/elbv2 targetGroupBindingFinalizer,
// and the service load balancer class and ingress controller it serves.
const (
	lbcServiceClass         = "service.k8s.aws/nlb"
	lbcIngressController    = "ingress.k8s.aws/alb"
	lbcALBGatewayController = "gateway.k8s.aws/alb"
	lbcNLBGatewayController = "gateway.k8s.aws/nlb"
	lbcServiceFinalizer     = "service.k8s.aws/resources"
	lbcIngressFinalizer     = "ingress.k8s.aws/resources"
	lbcIngressGroupPrefix   = "group.ingress.k8s.aws/"
	lbcTGBFinalizer         = "elbv2.k8s.aws/resources"
	// cloudProviderFinalizer is the cloud provider's (k8s.io/cloud-provider
	// LoadBalancerCleanupFinalizer): EKS's AWS cloud provider makes a load balancer in the VPC
	// for a Service of type LoadBalancer without a loadBalancerClass.
	cloudProviderFinalizer = "service.kubernetes.io/load-balancer-cleanup"
	// lbcAppLabel is the label the controller's Helm chart puts on its Deployment.
	lbcAppLabel = "app.kubernetes.io/name=aws-load-balancer-controller"
)

// The Gateway API and the controller's TargetGroupBinding, read with the dynamic client.
var (
	gatewayGVR            = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gateways"}
	gatewayClassGVR       = schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "gatewayclasses"}
	targetGroupBindingGVR = schema.GroupVersionResource{Group: "elbv2.k8s.aws", Version: "v1beta1", Resource: "targetgroupbindings"}
)

// loadBalancer is a Kubernetes object for which a controller made an AWS load balancer: its
// network interfaces and security groups sit in the stack's VPC, so while it exists the
// VPC's subnets and security groups cannot be deleted (DependencyViolation).
type loadBalancer struct {
	kind, namespace, name string
	hostname              string // the load balancer's DNS name (or IP), empty until it is provisioned
	// owner is who holds AWS resources for it (the AWS Load Balancer Controller, or EKS's
	// cloud provider), empty when the object is another controller's: listed, left alone.
	owner string
	// finalizers are the owner's finalizers on the object: they hold its deletion until the
	// owner has deleted the AWS resources.
	finalizers []string
}

// ownedByController says whether the AWS Load Balancer Controller serves the object.
func (lb loadBalancer) ownedByController() bool { return lb.owner == ownerController }

const (
	ownerController    = "the AWS Load Balancer Controller"
	ownerCloudProvider = "EKS's cloud provider"
)

// kubectlResource is the name kubectl takes for the kind.
func (lb loadBalancer) kubectlResource() string {
	switch lb.kind {
	case kindGateway:
		return "gateways.gateway.networking.k8s.io"
	case kindTargetGroupBinding:
		return "targetgroupbindings.elbv2.k8s.aws"
	}
	return strings.ToLower(lb.kind)
}

// releaseCommand is the command that lets the object go without its controller: it drops the
// finalizers, so the AWS resources it held are then left for the user to delete.
func (lb loadBalancer) releaseCommand() string {
	return fmt.Sprintf(`kubectl patch %s -n %s %s --type=merge -p '{"metadata":{"finalizers":null}}'`, lb.kubectlResource(), lb.namespace, lb.name)
}

func (lb loadBalancer) String() string {
	s := fmt.Sprintf("%s %s/%s", lb.kind, lb.namespace, lb.name)
	if lb.hostname != "" {
		s += " (" + lb.hostname + ")"
	}
	return s
}

// logGroupsAPI is the part of the CloudWatch Logs API the post-destroy check calls
// (DescribeLogGroups, DeleteLogGroup); *cloudwatchlogs.Client is one.
type logGroupsAPI interface {
	cloudwatchlogs.DescribeLogGroupsAPIClient
	DeleteLogGroup(context.Context, *cloudwatchlogs.DeleteLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.DeleteLogGroupOutput, error)
}

// cloudWatchLogs is a CloudWatch Logs client in region with eksirsa's AWS configuration
// (awsConfig: the default credential chain, as the Pulumi AWS provider uses it, with the
// stack's aws:profile and aws:endpoints).
func cloudWatchLogs(ctx context.Context, opts *options, region string) (logGroupsAPI, error) {
	cfg, err := awsConfig(ctx, opts, region)
	if err != nil {
		return nil, err
	}
	return cloudwatchlogs.NewFromConfig(cfg), nil
}

func newDestroyCommand(opts *options) *cobra.Command {
	var yes, deleteLBs, skipClusterChecks bool
	lbWait := verify.Poll{Timeout: defaultLoadBalancerWait, Interval: verify.DefaultInterval}
	cmd := &cobra.Command{
		Use:   "destroy",
		Short: "Delete every resource of the stack: nodes first, the cluster's log group last",
		Long: `destroy first lists the cluster's Services of type LoadBalancer, Ingresses, Gateways and
TargetGroupBindings: the AWS load balancers and target groups their controllers made keep
network interfaces and security groups in the VPC, which would stop the destroy half-way
(DependencyViolation). Objects of other controllers are listed and left. If there are any of
AWS's it refuses (exit 3), naming them, unless --delete-load-balancers: then it deletes them
and waits until they are gone (their finalizers hold them until the AWS load balancer is
deleted). When the AWS Load Balancer Controller is not running, objects with its finalizers
are named with the kubectl patch command that releases each, instead of waited on. An
unreachable cluster is refused unless --skip-cluster-checks. After the destroy it checks that
the control-plane log group is gone and deletes it if EKS re-created it while shutting down.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			s, err := openShown(cmd, opts)
			if err != nil {
				return err
			}
			outs, err := s.Outputs(ctx)
			if err != nil {
				return fmt.Errorf("stack %s outputs: %w", opts.stack, err)
			}
			var lbs []loadBalancer
			var client kubernetes.Interface
			var dyn dynamic.Interface
			if skipClusterChecks {
				fmt.Fprintln(out, "Not checking the cluster for load balancers (--skip-cluster-checks).")
			} else if client, dyn, lbs, err = clusterLoadBalancers(ctx, out, opts, outs); err != nil {
				return err
			}
			if len(lbs) > 0 && !deleteLBs {
				return &exitError{code: exitLoadBalancers, err: refuseLoadBalancers(opts.stack, lbs)}
			}
			if !yes {
				question := fmt.Sprintf("Delete every resource of stack %s?", opts.stack)
				if len(lbs) > 0 {
					question = fmt.Sprintf("Delete %d load balancers (%s), then every resource of stack %s?", len(lbs), joinLoadBalancers(lbs), opts.stack)
				}
				ok, err := confirm(cmd.InOrStdin(), out, question)
				if err != nil || !ok {
					return cancelled(err, "destroy")
				}
			}
			if len(lbs) > 0 {
				if err := deleteLoadBalancers(ctx, out, client, dyn, lbs, lbWait); err != nil {
					return err
				}
			}
			if _, err := s.Destroy(ctx, optdestroy.ProgressStreams(out), optdestroy.ErrorProgressStreams(cmd.ErrOrStderr())); err != nil {
				return err
			}
			return removeRecreatedLogGroup(ctx, out, cmd.ErrOrStderr(), opts, outs)
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "destroy without asking")
	cmd.Flags().BoolVar(&deleteLBs, "delete-load-balancers", false,
		"delete the cluster's load balancer Services, Ingresses, Gateways and TargetGroupBindings of AWS first, and wait until their AWS load balancers are gone")
	cmd.Flags().DurationVar(&lbWait.Timeout, "load-balancer-wait", defaultLoadBalancerWait, "how long --delete-load-balancers waits for them to be gone")
	cmd.Flags().DurationVar(&lbWait.Interval, "load-balancer-interval", verify.DefaultInterval, "time between checks while waiting for them")
	cmd.Flags().BoolVar(&skipClusterChecks, "skip-cluster-checks", false,
		"destroy without listing the cluster's load balancers (when the cluster no longer answers; delete any load balancers it made yourself)")
	return cmd
}

// clusterLoadBalancers lists the load balancers of the stack's cluster. A stack without the
// cluster output never created a cluster, so there is nothing to list; a cluster that does
// not answer is an error, since its load balancers may still exist.
func clusterLoadBalancers(ctx context.Context, out io.Writer, opts *options, outs auto.OutputMap) (kubernetes.Interface, dynamic.Interface, []loadBalancer, error) {
	clusterName, _ := outs[stack.OutClusterName].Value.(string)
	if clusterName == "" {
		fmt.Fprintf(out, "Stack %s has no %s output: no cluster was created, so no load balancers to check.\n", opts.stack, stack.OutClusterName)
		return nil, nil, nil, nil
	}
	unreachable := func(err error) error {
		return fmt.Errorf("cannot list the load balancers of cluster %s: %w; a load balancer left in the VPC would stop the destroy "+
			"(DependencyViolation). If the cluster is gone already, pass --skip-cluster-checks and delete any load balancers "+
			"it made (EC2 > Load Balancers, tag elbv2.k8s.aws/cluster or kubernetes.io/cluster/%s) yourself", clusterName, err, clusterName)
	}
	kubeconfig, _ := outs[stack.OutKubeconfig].Value.(string)
	if kubeconfig == "" {
		return nil, nil, nil, unreachable(fmt.Errorf("stack %s has no %s output", opts.stack, stack.OutKubeconfig))
	}
	client, err := opts.kubeClient([]byte(kubeconfig))
	if err != nil {
		return nil, nil, nil, unreachable(err)
	}
	var dyn dynamic.Interface
	if opts.dynamicClient != nil {
		if dyn, err = opts.dynamicClient([]byte(kubeconfig)); err != nil {
			return nil, nil, nil, unreachable(err)
		}
	}
	listCtx, cancel := context.WithTimeout(ctx, clusterListTimeout)
	defer cancel()
	all, err := listLoadBalancers(listCtx, client, dyn)
	if err != nil {
		return nil, nil, nil, unreachable(err)
	}
	var lbs []loadBalancer
	for _, lb := range all {
		if lb.owner == "" {
			fmt.Fprintf(out, "Leaving %s: no AWS load balancer controller owns it (its class or finalizers are another controller's).\n", lb)
			continue
		}
		lbs = append(lbs, lb)
	}
	running, err := controllerRunning(listCtx, client)
	if err != nil {
		return nil, nil, nil, unreachable(err)
	}
	if s := stranded(lbs, running); len(s) > 0 {
		return nil, nil, nil, &exitError{code: exitLoadBalancers, err: refuseStranded(opts.stack, s)}
	}
	return client, dyn, lbs, nil
}

// listLoadBalancers returns, in every namespace, the objects for which AWS load balancers
// (or their target groups) may exist, sorted by kind, namespace and name: Services of type
// LoadBalancer, Ingresses (networking.k8s.io/v1), Gateways (gateway.networking.k8s.io/v1)
// and TargetGroupBindings (elbv2.k8s.aws/v1beta1), each with who owns it. A kind whose API
// the cluster does not serve (no Gateway API or controller CRDs) has no objects.
func listLoadBalancers(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface) ([]loadBalancer, error) {
	var lbs []loadBalancer
	services, err := client.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	for _, s := range services.Items {
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			continue
		}
		lb := loadBalancer{kind: kindService, namespace: s.Namespace, name: s.Name, hostname: hostname(s.Status.LoadBalancer.Ingress)}
		class := ""
		if s.Spec.LoadBalancerClass != nil {
			class = *s.Spec.LoadBalancerClass
		}
		lb.finalizers = ourFinalizers(s.Finalizers, lbcServiceFinalizer, cloudProviderFinalizer)
		switch {
		case class == lbcServiceClass || slices.Contains(s.Finalizers, lbcServiceFinalizer):
			lb.owner = ownerController
		case class == "":
			lb.owner = ownerCloudProvider
		}
		lbs = append(lbs, lb)
	}
	ingressClasses, err := client.NetworkingV1().IngressClasses().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list ingress classes: %w", err)
	}
	ours, defaultOurs := map[string]bool{}, false
	for _, c := range ingressClasses.Items {
		if c.Spec.Controller == lbcIngressController {
			ours[c.Name] = true
			defaultOurs = defaultOurs || c.Annotations[networkingv1.AnnotationIsDefaultIngressClass] == "true"
		}
	}
	ingresses, err := client.NetworkingV1().Ingresses(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list ingresses: %w", err)
	}
	for _, i := range ingresses.Items {
		var addrs []corev1.LoadBalancerIngress
		for _, a := range i.Status.LoadBalancer.Ingress {
			addrs = append(addrs, corev1.LoadBalancerIngress{Hostname: a.Hostname, IP: a.IP})
		}
		lb := loadBalancer{kind: kindIngress, namespace: i.Namespace, name: i.Name, hostname: hostname(addrs)}
		class := i.Annotations["kubernetes.io/ingress.class"] // the deprecated annotation the controller still reads
		if i.Spec.IngressClassName != nil {
			class = *i.Spec.IngressClassName
		}
		lb.finalizers = ourFinalizers(i.Finalizers, lbcIngressFinalizer, lbcIngressGroupPrefix)
		if ours[class] || class == "alb" || (class == "" && defaultOurs) || len(lb.finalizers) > 0 {
			lb.owner = ownerController
		}
		lbs = append(lbs, lb)
	}
	gateways, err := listIfServed(ctx, dyn, gatewayGVR)
	if err != nil {
		return nil, err
	}
	if len(gateways) > 0 {
		classes, err := listIfServed(ctx, dyn, gatewayClassGVR)
		if err != nil {
			return nil, err
		}
		controllerOf := map[string]string{}
		for _, c := range classes {
			controllerOf[c.GetName()], _, _ = unstructured.NestedString(c.Object, "spec", "controllerName")
		}
		for _, g := range gateways {
			class, _, _ := unstructured.NestedString(g.Object, "spec", "gatewayClassName")
			lb := loadBalancer{kind: kindGateway, namespace: g.GetNamespace(), name: g.GetName(),
				finalizers: ourFinalizers(g.GetFinalizers(), lbcALBGatewayController, lbcNLBGatewayController)}
			if addrs, _, _ := unstructured.NestedSlice(g.Object, "status", "addresses"); len(addrs) > 0 {
				if a, ok := addrs[0].(map[string]any); ok {
					lb.hostname, _ = a["value"].(string)
				}
			}
			if c := controllerOf[class]; c == lbcALBGatewayController || c == lbcNLBGatewayController || len(lb.finalizers) > 0 {
				lb.owner = ownerController
			}
			lbs = append(lbs, lb)
		}
	}
	bindings, err := listIfServed(ctx, dyn, targetGroupBindingGVR)
	if err != nil {
		return nil, err
	}
	for _, b := range bindings {
		// elbv2.k8s.aws is the controller's own API: every binding is its.
		lbs = append(lbs, loadBalancer{kind: kindTargetGroupBinding, namespace: b.GetNamespace(), name: b.GetName(), owner: ownerController,
			finalizers: ourFinalizers(b.GetFinalizers(), lbcTGBFinalizer)})
	}
	slices.SortFunc(lbs, func(a, b loadBalancer) int {
		return strings.Compare(a.kind+"/"+a.namespace+"/"+a.name, b.kind+"/"+b.namespace+"/"+b.name)
	})
	return lbs, nil
}

// listIfServed lists a custom resource in every namespace; nothing when the cluster does not
// serve its API (the CRD is not installed).
func listIfServed(ctx context.Context, dyn dynamic.Interface, gvr schema.GroupVersionResource) ([]unstructured.Unstructured, error) {
	if dyn == nil {
		return nil, nil
	}
	list, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", gvr.GroupResource(), err)
	}
	return list.Items, nil
}

// ourFinalizers are the finalizers of the list that are one of want, or start with one
// ending in "/" (a prefix).
func ourFinalizers(finalizers []string, want ...string) []string {
	var out []string
	for _, f := range finalizers {
		if slices.ContainsFunc(want, func(w string) bool { return f == w || (strings.HasSuffix(w, "/") && strings.HasPrefix(f, w)) }) {
			out = append(out, f)
		}
	}
	return out
}

// controllerRunning says whether a Deployment of the AWS Load Balancer Controller (its Helm
// chart's label) has an available replica to serve its finalizers.
func controllerRunning(ctx context.Context, client kubernetes.Interface) (bool, error) {
	deps, err := client.AppsV1().Deployments(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: lbcAppLabel})
	if err != nil {
		return false, fmt.Errorf("list the AWS Load Balancer Controller's deployments (%s): %w", lbcAppLabel, err)
	}
	return slices.ContainsFunc(deps.Items, func(d appsv1.Deployment) bool { return d.Status.AvailableReplicas > 0 }), nil
}

// stranded are the controller's objects whose finalizers nobody can serve: the controller is
// not running, so deleting them would wait for ever.
func stranded(lbs []loadBalancer, running bool) []loadBalancer {
	if running {
		return nil
	}
	var out []loadBalancer
	for _, lb := range lbs {
		if lb.ownedByController() && len(lb.finalizers) > 0 {
			out = append(out, lb)
		}
	}
	return out
}

func refuseStranded(stackName string, lbs []loadBalancer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s not destroyed: %d objects carry finalizers of the AWS Load Balancer Controller, which is not running "+
		"(no available Deployment labelled %s), so deleting them would wait for ever:\n", stackName, len(lbs), lbcAppLabel)
	for _, lb := range lbs {
		fmt.Fprintf(&b, "  %s (finalizers %s)\n    release: %s\n", lb, strings.Join(lb.finalizers, ", "), lb.releaseCommand())
	}
	b.WriteString("Either start the controller again and run destroy, or release each with the command above and delete the AWS load balancers " +
		"and target groups it held yourself (EC2 > Load Balancers / Target Groups, tag elbv2.k8s.aws/cluster), then run destroy.")
	return errors.New(b.String())
}

// hostname is the first address the status reports: AWS load balancers have a DNS name.
func hostname(addrs []corev1.LoadBalancerIngress) string {
	for _, a := range addrs {
		if a.Hostname != "" {
			return a.Hostname
		}
		if a.IP != "" {
			return a.IP
		}
	}
	return ""
}

func joinLoadBalancers(lbs []loadBalancer) string {
	names := make([]string, len(lbs))
	for i, lb := range lbs {
		names[i] = lb.kind + " " + lb.namespace + "/" + lb.name
	}
	return strings.Join(names, ", ")
}

func refuseLoadBalancers(stackName string, lbs []loadBalancer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "stack %s not destroyed: the cluster has %d load balancers whose network interfaces and security groups "+
		"in the VPC would stop the destroy (DependencyViolation):\n", stackName, len(lbs))
	for _, lb := range lbs {
		fmt.Fprintf(&b, "  %s\n", lb)
	}
	b.WriteString("Delete them (kubectl delete service|ingress|gateways.gateway.networking.k8s.io|targetgroupbindings.elbv2.k8s.aws -n NAMESPACE NAME) and wait until they are gone, " +
		"or run `eksirsa destroy --delete-load-balancers` to have eksirsa do both.")
	return errors.New(b.String())
}

// deleteLoadBalancers deletes the objects and waits, up to wait.Timeout, until none is left. The
// objects' finalizers (service.kubernetes.io/load-balancer-cleanup, ingress.k8s.aws/resources)
// keep them until their controller has deleted the AWS load balancer, so an object gone means
// its load balancer is gone.
func deleteLoadBalancers(ctx context.Context, out io.Writer, client kubernetes.Interface, dyn dynamic.Interface, lbs []loadBalancer, wait verify.Poll) error {
	for _, lb := range lbs {
		fmt.Fprintf(out, "Deleting %s\n", lb)
		if err := deleteObject(ctx, client, dyn, lb); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s %s/%s: %w", lb.kind, lb.namespace, lb.name, err)
		}
	}
	if wait.Interval <= 0 {
		wait.Interval = verify.DefaultInterval
	}
	start := time.Now()
	left := lbs
	for {
		var still []loadBalancer
		for _, lb := range left {
			err := getObject(ctx, client, dyn, lb)
			switch {
			case apierrors.IsNotFound(err):
				fmt.Fprintf(out, "  gone: %s %s/%s\n", lb.kind, lb.namespace, lb.name)
			case err != nil:
				return fmt.Errorf("check %s %s/%s: %w", lb.kind, lb.namespace, lb.name, err)
			default:
				still = append(still, lb)
			}
		}
		if left = still; len(left) == 0 {
			return nil
		}
		elapsed := time.Since(start)
		if elapsed >= wait.Timeout {
			return fmt.Errorf("after %s, %d load balancers are still being deleted: %s; nothing was destroyed. Look at their events "+
				"(kubectl describe) and the load balancer controller's logs, then run destroy again (a longer --load-balancer-wait if they are only slow)",
				wait.Timeout, len(left), joinLoadBalancers(left))
		}
		fmt.Fprintf(out, "Waiting for %d load balancers to be deleted (%s elapsed of %s): %s\n",
			len(left), elapsed.Round(time.Second), wait.Timeout, joinLoadBalancers(left))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(min(wait.Interval, wait.Timeout-elapsed)):
		}
	}
}

func deleteObject(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, lb loadBalancer) error {
	switch lb.kind {
	case kindService:
		return client.CoreV1().Services(lb.namespace).Delete(ctx, lb.name, metav1.DeleteOptions{})
	case kindIngress:
		return client.NetworkingV1().Ingresses(lb.namespace).Delete(ctx, lb.name, metav1.DeleteOptions{})
	}
	return dyn.Resource(lb.gvr()).Namespace(lb.namespace).Delete(ctx, lb.name, metav1.DeleteOptions{})
}

func getObject(ctx context.Context, client kubernetes.Interface, dyn dynamic.Interface, lb loadBalancer) error {
	var err error
	switch lb.kind {
	case kindService:
		_, err = client.CoreV1().Services(lb.namespace).Get(ctx, lb.name, metav1.GetOptions{})
	case kindIngress:
		_, err = client.NetworkingV1().Ingresses(lb.namespace).Get(ctx, lb.name, metav1.GetOptions{})
	default:
		_, err = dyn.Resource(lb.gvr()).Namespace(lb.namespace).Get(ctx, lb.name, metav1.GetOptions{})
	}
	return err
}

// gvr is the resource of a kind read with the dynamic client.
func (lb loadBalancer) gvr() schema.GroupVersionResource {
	if lb.kind == kindGateway {
		return gatewayGVR
	}
	return targetGroupBindingGVR
}

// removeRecreatedLogGroup checks that the control-plane log group the destroy deleted is
// gone. EKS writes to /aws/eks/<name>/cluster until the control plane has shut down and
// creates the group again if it is missing, so it can reappear after Pulumi deleted it.
// The stack is destroyed by then: a check that cannot run is a warning on errOut saying how
// to check by hand; only a group known to be left that cannot be deleted fails the command.
func removeRecreatedLogGroup(ctx context.Context, out, errOut io.Writer, opts *options, outs auto.OutputMap) error {
	name, _ := outs[stack.OutClusterLogGroup].Value.(string)
	if name == "" {
		fmt.Fprintf(out, "Stack %s had no %s output: no control-plane log group to check.\n", opts.stack, stack.OutClusterLogGroup)
		return nil
	}
	region, _ := outs[stack.OutRegion].Value.(string)
	cannotCheck := func(err error) error {
		fmt.Fprintf(errOut, "Warning: the stack is destroyed, but whether EKS re-created its control-plane log group %s could not be checked: %v\n"+
			"  Check: aws logs describe-log-groups --region %s --log-group-name-prefix %s\n"+
			"  If it is listed: aws logs delete-log-group --region %s --log-group-name %s\n", name, err, region, name, region, name)
		return nil
	}
	if region == "" {
		return cannotCheck(fmt.Errorf("stack %s had no %s output", opts.stack, stack.OutRegion))
	}
	ctx, cancel := context.WithTimeout(ctx, logGroupCheckTimeout)
	defer cancel()
	logs, err := opts.logGroups(ctx, opts, region)
	if err != nil {
		return cannotCheck(err)
	}
	exists, err := logGroupExists(ctx, logs, name)
	if err != nil {
		return cannotCheck(err)
	}
	if !exists {
		fmt.Fprintf(out, "Control-plane log group %s is gone.\n", name)
		return nil
	}
	_, err = logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String(name)})
	if notFound := (*logtypes.ResourceNotFoundException)(nil); errors.As(err, &notFound) {
		fmt.Fprintf(out, "Control-plane log group %s is gone.\n", name) // deleted since it was listed
		return nil
	}
	if err != nil {
		return fmt.Errorf("stack %s destroyed, but EKS re-created its control-plane log group %s in %s and deleting it failed: %w; "+
			"delete it with: aws logs delete-log-group --region %s --log-group-name %s", opts.stack, name, region, err, region, name)
	}
	fmt.Fprintf(out, "EKS re-created the control-plane log group %s while the cluster shut down; deleted it.\n", name)
	return nil
}

// logGroupExists reads the groups whose names start with name and looks for name itself
// (/aws/eks/demo/cluster is a prefix of /aws/eks/demo/cluster-old).
func logGroupExists(ctx context.Context, logs logGroupsAPI, name string) (bool, error) {
	pages := cloudwatchlogs.NewDescribeLogGroupsPaginator(logs, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String(name)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return false, err
		}
		for _, g := range page.LogGroups {
			if aws.ToString(g.LogGroupName) == name {
				return true, nil
			}
		}
	}
	return false, nil
}
