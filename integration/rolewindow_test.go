package integration

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
	"github.com/eks-irsa/eks-irsa/irsa"
	"github.com/eks-irsa/eks-irsa/k8s"
)

// The window of a rename of aws-node's role. On AWS the real provider deletes an explicitly
// named role *before* creating its replacement, also when the name changes
// (pulumi-terraform-bridge nameRequiresDeleteBeforeReplace; integration/awsemu follows it):
// were the rename a replacement, kube-system/aws-node would stay annotated with, and its pods
// would keep, the ARN of a role that no longer exists until the annotation and the roll
// caught up, and the VPC CNI would lose its credentials. The program registers each IRSA role
// under its IAM name (stack/program.go newIRSARole), so a rename is a new role plus an old one
// the engine deletes only after the program's last step, aws-node's roll onto the new ARN.
// watchAWSNode records what aws-node sees meanwhile, so a test can hold that order.

// awsNodeView is what aws-node sees at one moment of a rename: whether the old and the new
// role exist in IAM, the ARN its ServiceAccount is annotated with (what a new pod gets from
// the pod identity webhook) and the AWS_ROLE_ARN of each of its pods, terminating ones
// included (they run until they are gone); "" where there is none.
type awsNodeView struct {
	at               time.Duration
	oldRole, newRole bool
	annotation       string
	pods             []string
}

func (v awsNodeView) same(o awsNodeView) bool {
	return v.oldRole == o.oldRole && v.newRole == o.newRole && v.annotation == o.annotation && slices.Equal(v.pods, o.pods)
}

func (v awsNodeView) String() string {
	return fmt.Sprintf("%6.2fs old role %v, new role %v, annotated %s, pods %v",
		v.at.Seconds(), v.oldRole, v.newRole, v.annotation, v.pods)
}

// withoutCredentials lists the ARNs in use (the annotation, each pod's) that give no
// credentials at this moment: none at all, or a role that does not exist.
func (v awsNodeView) withoutCredentials(oldARN, newARN string) []string {
	var out []string
	for _, arn := range append([]string{v.annotation}, v.pods...) {
		if arn == "" || (arn == oldARN && !v.oldRole) || (arn == newARN && !v.newRole) {
			out = append(out, fmt.Sprintf("%q", arn))
		}
	}
	return out
}

// rolledOnto: annotated with arn and every pod carries it.
func (v awsNodeView) rolledOnto(arn string) bool {
	if v.annotation != arn || len(v.pods) == 0 {
		return false
	}
	for _, p := range v.pods {
		if p != arn {
			return false
		}
	}
	return true
}

// watchAWSNode samples aws-node's view every 50 ms until the returned stop is called, and
// returns each view that differs from the one before. A sample whose reads fail is skipped.
func (e *emulated) watchAWSNode(oldRole, newRole string) (stop func() []awsNodeView) {
	ctx, cancel := context.WithCancel(e.t.Context())
	iamClient := iam.NewFromConfig(e.aws)
	c := e.cluster.Client
	exists := func(name string) (bool, error) {
		_, err := iamClient.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
		var missing *iamtypes.NoSuchEntityException
		if errors.As(err, &missing) {
			return false, nil
		}
		return err == nil, err
	}
	sample := func(start time.Time) (awsNodeView, error) {
		v := awsNodeView{at: time.Since(start)}
		var err error
		if v.oldRole, err = exists(oldRole); err != nil {
			return v, err
		}
		if v.newRole, err = exists(newRole); err != nil {
			return v, err
		}
		sa, err := c.CoreV1().ServiceAccounts(k8s.KubeSystemNamespace).Get(ctx, k8s.AWSNodeName, metav1.GetOptions{})
		if err != nil {
			return v, err
		}
		v.annotation = sa.Annotations[irsa.RoleARNAnnotation]
		pods, err := c.CoreV1().Pods(k8s.KubeSystemNamespace).List(ctx, metav1.ListOptions{LabelSelector: "k8s-app=" + testcluster.AWSNodeName})
		if err != nil {
			return v, err
		}
		for _, p := range pods.Items {
			arn := "" // a pod the webhook gave no role: no credentials
			for _, ctr := range p.Spec.Containers {
				for _, env := range ctr.Env {
					if env.Name == irsa.EnvRoleARN {
						arn = env.Value
					}
				}
			}
			v.pods = append(v.pods, arn)
		}
		slices.Sort(v.pods)
		return v, nil
	}

	var (
		wg    sync.WaitGroup
		views []awsNodeView
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if v, err := sample(start); err == nil && (len(views) == 0 || !v.same(views[len(views)-1])) {
				views = append(views, v)
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return func() []awsNodeView {
		cancel()
		wg.Wait()
		return views
	}
}

// checkRoleWindow fails the test unless aws-node kept credentials through the rename: at no
// moment an ARN in use (annotation or pod) names a role that does not exist, the watch saw
// the start (old role, annotated with it) and the end (only the new role, every pod on it),
// and the old role was deleted only once the new one existed, was annotated and every pod
// had rolled onto it.
func (e *emulated) checkRoleWindow(views []awsNodeView, oldARN, newARN string) {
	e.t.Helper()
	var timeline strings.Builder
	for _, v := range views {
		fmt.Fprintf(&timeline, "  %s\n", v)
	}
	e.t.Logf("what aws-node saw while its role was renamed:\n%s", timeline.String())
	if len(views) == 0 {
		e.t.Fatal("the watch saw nothing of aws-node during the rename")
	}
	if first := views[0]; !first.oldRole || first.annotation != oldARN {
		e.t.Errorf("the watch began after the rename had started: %s", first)
	}
	if last := views[len(views)-1]; last.oldRole || !last.newRole || !last.rolledOnto(newARN) {
		e.t.Errorf("the rename did not end with only the new role, every pod on it: %s", last)
	}
	overlap := false
	for _, v := range views {
		if lost := v.withoutCredentials(oldARN, newARN); len(lost) > 0 {
			e.t.Errorf("aws-node without credentials: %v name roles that do not exist at %s", lost, v)
		}
		if v.oldRole && v.newRole && v.rolledOnto(newARN) {
			overlap = true
		}
	}
	if !overlap {
		e.t.Errorf("never saw both roles with aws-node annotated and rolled onto the new one: the old role went before aws-node had moved")
	}
}
