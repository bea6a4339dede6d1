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
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	kindService = "Service"
	kindIngress = "Ingress"
)

// loadBalancer is a Kubernetes object for which a controller made an AWS load balancer: its
// network interfaces and security groups sit in the stack's VPC, so while it exists the
// VPC's subnets and security groups cannot be deleted (DependencyViolation).
type loadBalancer struct {
	kind, namespace, name string
	hostname              string // the load balancer's DNS name (or IP), empty until it is provisioned
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
		Long: `destroy first lists the cluster's Services of type LoadBalancer and its Ingresses: the AWS
load balancers their controllers made keep network interfaces and security groups in the VPC,
which would stop the destroy half-way (DependencyViolation). If there are any it refuses
(exit 3), naming them, unless --delete-load-balancers: then it deletes them and waits until
they are gone (their finalizers hold them until the AWS load balancer is deleted). An
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
			if skipClusterChecks {
				fmt.Fprintln(out, "Not checking the cluster for load balancers (--skip-cluster-checks).")
			} else if client, lbs, err = clusterLoadBalancers(ctx, out, opts, outs); err != nil {
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
				if err := deleteLoadBalancers(ctx, out, client, lbs, lbWait); err != nil {
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
		"delete the cluster's Services of type LoadBalancer and Ingresses first, and wait until their AWS load balancers are gone")
	cmd.Flags().DurationVar(&lbWait.Timeout, "load-balancer-wait", defaultLoadBalancerWait, "how long --delete-load-balancers waits for them to be gone")
	cmd.Flags().DurationVar(&lbWait.Interval, "load-balancer-interval", verify.DefaultInterval, "time between checks while waiting for them")
	cmd.Flags().BoolVar(&skipClusterChecks, "skip-cluster-checks", false,
		"destroy without listing the cluster's load balancers (when the cluster no longer answers; delete any load balancers it made yourself)")
	return cmd
}

// clusterLoadBalancers lists the load balancers of the stack's cluster. A stack without the
// cluster output never created a cluster, so there is nothing to list; a cluster that does
// not answer is an error, since its load balancers may still exist.
func clusterLoadBalancers(ctx context.Context, out io.Writer, opts *options, outs auto.OutputMap) (kubernetes.Interface, []loadBalancer, error) {
	clusterName, _ := outs[stack.OutClusterName].Value.(string)
	if clusterName == "" {
		fmt.Fprintf(out, "Stack %s has no %s output: no cluster was created, so no load balancers to check.\n", opts.stack, stack.OutClusterName)
		return nil, nil, nil
	}
	unreachable := func(err error) error {
		return fmt.Errorf("cannot list the load balancers of cluster %s: %w; a load balancer left in the VPC would stop the destroy "+
			"(DependencyViolation). If the cluster is gone already, pass --skip-cluster-checks and delete any load balancers "+
			"it made (EC2 > Load Balancers, tag elbv2.k8s.aws/cluster or kubernetes.io/cluster/%s) yourself", clusterName, err, clusterName)
	}
	kubeconfig, _ := outs[stack.OutKubeconfig].Value.(string)
	if kubeconfig == "" {
		return nil, nil, unreachable(fmt.Errorf("stack %s has no %s output", opts.stack, stack.OutKubeconfig))
	}
	client, err := opts.kubeClient([]byte(kubeconfig))
	if err != nil {
		return nil, nil, unreachable(err)
	}
	listCtx, cancel := context.WithTimeout(ctx, clusterListTimeout)
	defer cancel()
	lbs, err := listLoadBalancers(listCtx, client)
	if err != nil {
		return nil, nil, unreachable(err)
	}
	return client, lbs, nil
}

// listLoadBalancers returns, in every namespace, the Services of type LoadBalancer and the
// Ingresses (networking.k8s.io/v1), sorted by kind, namespace and name.
func listLoadBalancers(ctx context.Context, client kubernetes.Interface) ([]loadBalancer, error) {
	var lbs []loadBalancer
	services, err := client.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	for _, s := range services.Items {
		if s.Spec.Type == corev1.ServiceTypeLoadBalancer {
			lbs = append(lbs, loadBalancer{kind: kindService, namespace: s.Namespace, name: s.Name, hostname: hostname(s.Status.LoadBalancer.Ingress)})
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
		lbs = append(lbs, loadBalancer{kind: kindIngress, namespace: i.Namespace, name: i.Name, hostname: hostname(addrs)})
	}
	slices.SortFunc(lbs, func(a, b loadBalancer) int {
		return strings.Compare(a.kind+"/"+a.namespace+"/"+a.name, b.kind+"/"+b.namespace+"/"+b.name)
	})
	return lbs, nil
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
	b.WriteString("Delete them (kubectl delete service|ingress -n NAMESPACE NAME) and wait until they are gone, " +
		"or run `eksirsa destroy --delete-load-balancers` to have eksirsa do both.")
	return errors.New(b.String())
}

// deleteLoadBalancers deletes the objects and waits, up to wait.Timeout, until none is left. The
// objects' finalizers (service.kubernetes.io/load-balancer-cleanup, ingress.k8s.aws/resources)
// keep them until their controller has deleted the AWS load balancer, so an object gone means
// its load balancer is gone.
func deleteLoadBalancers(ctx context.Context, out io.Writer, client kubernetes.Interface, lbs []loadBalancer, wait verify.Poll) error {
	for _, lb := range lbs {
		fmt.Fprintf(out, "Deleting %s\n", lb)
		if err := deleteObject(ctx, client, lb); err != nil && !apierrors.IsNotFound(err) {
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
			err := getObject(ctx, client, lb)
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

func deleteObject(ctx context.Context, client kubernetes.Interface, lb loadBalancer) error {
	if lb.kind == kindService {
		return client.CoreV1().Services(lb.namespace).Delete(ctx, lb.name, metav1.DeleteOptions{})
	}
	return client.NetworkingV1().Ingresses(lb.namespace).Delete(ctx, lb.name, metav1.DeleteOptions{})
}

func getObject(ctx context.Context, client kubernetes.Interface, lb loadBalancer) error {
	var err error
	if lb.kind == kindService {
		_, err = client.CoreV1().Services(lb.namespace).Get(ctx, lb.name, metav1.GetOptions{})
	} else {
		_, err = client.NetworkingV1().Ingresses(lb.namespace).Get(ctx, lb.name, metav1.GetOptions{})
	}
	return err
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
