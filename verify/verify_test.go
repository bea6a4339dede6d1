package verify

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// recording keeps every report; onWaiting lets a test change the cluster mid-wait.
type recording struct {
	results   []Result
	waits     []Progress
	onWaiting func(Progress)
}

func (r *recording) Result(res Result) { r.results = append(r.results, res) }

func (r *recording) Waiting(p Progress) {
	r.waits = append(r.waits, p)
	if r.onWaiting != nil {
		r.onWaiting(p)
	}
}

func (r *recording) lines() []string {
	var out []string
	for _, res := range r.results {
		verdict := "PASS"
		if !res.Passed() {
			verdict = "FAIL"
		}
		out = append(out, verdict+" "+res.Check)
	}
	return out
}

func names(rs []Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Check)
	}
	return out
}

func TestRunHealthy(t *testing.T) {
	rec := &recording{}
	if err := Run(t.Context(), newClientset(healthy().objects()...), testExpectations(), rec); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var want []string
	for _, c := range Checks() {
		want = append(want, "PASS "+c.Name)
	}
	if got := rec.lines(); !slices.Equal(got, want) {
		t.Errorf("reports %q, want %q", got, want)
	}
	if len(rec.waits) != 0 {
		t.Errorf("Run without a wait reported %d waiting rounds", len(rec.waits))
	}
}

func TestRunNamesEveryFailedCheck(t *testing.T) {
	c := healthy()
	c.ds.Generation = 3
	c.sa(autoscalerSA).Annotations = nil
	client := newClientset(c.objects()...)
	client.PrependReactor("list", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", errors.New("RBAC"))
	})
	rec := &recording{}
	err := Run(t.Context(), client, testExpectations(), rec)

	var verr *Error
	if !errors.As(err, &verr) {
		t.Fatalf("Run returned %v, want *Error", err)
	}
	wantFailed := []string{CheckNodesReady, CheckAWSNodeRollout, CheckIRSAAccounts}
	if got := names(verr.Failed); !slices.Equal(got, wantFailed) {
		t.Errorf("failed checks %q, want %q", got, wantFailed)
	}
	if verr.Checks != len(Checks()) || verr.Waited != 0 {
		t.Errorf("Error{Checks: %d, Waited: %s}, want %d checks and no wait", verr.Checks, verr.Waited, len(Checks()))
	}
	if !apierrors.IsForbidden(err) {
		t.Errorf("errors do not unwrap to the API's Forbidden: %v", err)
	}
	msg := err.Error()
	for _, w := range []string{
		"3 of 7 IRSA checks failed:",
		"\n  nodes-ready: list nodes:",
		"\n  aws-node-rollout: generation 3 observed 2",
		"\n  irsa-service-accounts: 1 of 2 service accounts wrong: kube-system/cluster-autoscaler has no",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q\nwant it to contain %q", msg, w)
		}
	}
	wantLines := []string{
		"PASS " + CheckClusterAccess, "PASS " + CheckAWSNodeAnnotation, "PASS " + CheckAWSNodeCredentials, "PASS " + CheckCoreDNSReady,
		"FAIL " + CheckNodesReady, "FAIL " + CheckAWSNodeRollout, "FAIL " + CheckIRSAAccounts,
	}
	if got := rec.lines(); !slices.Equal(got, wantLines) {
		t.Errorf("reports %q, want %q", got, wantLines)
	}
}

// refusing answers SelfSubjectReview as kube-apiserver does when nothing maps the caller
// (401 Unauthorized) until admit is closed, and counts every other request it sees meanwhile.
func refusing(client *fake.Clientset, admit <-chan struct{}, others *atomic.Int32) {
	client.PrependReactor("*", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		select {
		case <-admit:
			return false, nil, nil
		default:
		}
		if a.GetResource().Resource == "selfsubjectreviews" {
			return true, nil, apierrors.NewUnauthorized("Unauthorized")
		}
		others.Add(1)
		return true, nil, apierrors.NewUnauthorized("Unauthorized")
	})
}

// TestRunRefusedAsksOnlyWhoItIs: when the cluster refuses verify's credentials, the checks
// that read the cluster are reported as not checked, without a request each (every one would
// be refused the same way, each after the credential plugin ran again).
func TestRunRefusedAsksOnlyWhoItIs(t *testing.T) {
	client := newClientset(healthy().objects()...)
	var others atomic.Int32
	refusing(client, nil, &others)
	rec := &recording{}
	err := Run(t.Context(), client, testExpectations(), rec)
	if !apierrors.IsUnauthorized(err) {
		t.Fatalf("Run = %v, want it to unwrap to Unauthorized", err)
	}
	if n := others.Load(); n != 0 {
		t.Errorf("%d requests besides the SelfSubjectReview, want none", n)
	}
	var want []string
	for _, c := range Checks() {
		want = append(want, "FAIL "+c.Name)
	}
	if got := rec.lines(); !slices.Equal(got, want) {
		t.Errorf("reports %q, want %q", got, want)
	}
	if msg := err.Error(); !strings.Contains(msg, "\n  "+CheckNodesReady+": not checked: "+CheckClusterAccess+" failed") {
		t.Errorf("error %q, want the cluster checks named as not checked", msg)
	}
}

// TestWaitChecksTheClusterOnceAdmitted: a wait that starts refused (an access entry not yet
// in effect) runs the cluster checks as soon as the cluster admits verify.
func TestWaitChecksTheClusterOnceAdmitted(t *testing.T) {
	client := newClientset(healthy().objects()...)
	admit := make(chan struct{})
	var others atomic.Int32
	refusing(client, admit, &others)
	rec := &recording{}
	rec.onWaiting = func(p Progress) {
		if p.Round == 1 {
			close(admit)
		}
	}
	if err := Wait(t.Context(), client, testExpectations(), rec, Poll{Timeout: time.Minute, Interval: time.Millisecond}); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if len(rec.waits) != 1 || len(rec.waits[0].Failing) != len(Checks()) {
		t.Fatalf("waiting rounds %+v, want one with every check failing", rec.waits)
	}
	var want []string
	for _, c := range Checks() {
		want = append(want, "PASS "+c.Name)
	}
	if got := rec.lines(); !slices.Equal(got, want) {
		t.Errorf("reports %q, want %q", got, want)
	}
}

func TestRunRejectsBadExpectations(t *testing.T) {
	rec := &recording{}
	err := Run(t.Context(), newClientset(), Expectations{}, rec)
	if err == nil || !strings.Contains(err.Error(), "verify: expectations:") {
		t.Fatalf("Run with empty expectations = %v, want an expectations error", err)
	}
	if len(rec.results) != 0 {
		t.Errorf("checks ran against bad expectations: %q", rec.lines())
	}
}

// unannotatedAWSNode is a healthy cluster but for aws-node's missing role annotation.
func unannotatedAWSNode() *fake.Clientset {
	c := healthy()
	c.sa(types.NamespacedName{Namespace: KubeSystem, Name: AWSNode}).Annotations = nil
	return newClientset(c.objects()...)
}

// annotateAWSNode gives aws-node its role annotation back, as the k8s layer would.
func annotateAWSNode(t *testing.T, client *fake.Clientset) {
	sa := healthy().sa(types.NamespacedName{Namespace: KubeSystem, Name: AWSNode})
	if _, err := client.CoreV1().ServiceAccounts(KubeSystem).Update(context.Background(), sa, metav1.UpdateOptions{}); err != nil {
		t.Errorf("annotate aws-node: %v", err)
	}
}

// TestWaitConverges annotates aws-node and recreates its pods while Wait is waiting, as the
// k8s layer and the DaemonSet controller would: the wait must pick the change up and pass.
func TestWaitConverges(t *testing.T) {
	client := unannotatedAWSNode()
	rec := &recording{}
	rec.onWaiting = func(p Progress) {
		if p.Round == 1 {
			annotateAWSNode(t, client)
		}
	}
	err := Wait(t.Context(), client, testExpectations(), rec, Poll{Timeout: time.Minute, Interval: time.Millisecond})
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if len(rec.waits) != 1 || !slices.Equal(names(rec.waits[0].Failing), []string{CheckAWSNodeAnnotation}) {
		t.Fatalf("waiting rounds %+v, want one with only %s failing", rec.waits, CheckAWSNodeAnnotation)
	}
	if rem := rec.waits[0].Remaining; rem <= 0 || rem > time.Minute {
		t.Errorf("remaining %s, want within the 1m timeout", rem)
	}
	want := []string{
		"PASS " + CheckClusterAccess, "PASS " + CheckNodesReady, "PASS " + CheckAWSNodeRollout, "PASS " + CheckAWSNodeCredentials,
		"PASS " + CheckCoreDNSReady, "PASS " + CheckIRSAAccounts, "PASS " + CheckAWSNodeAnnotation,
	}
	if got := rec.lines(); !slices.Equal(got, want) {
		t.Errorf("reports %q, want each check once, as it passes: %q", got, want)
	}
}

// TestWaitWakesOnChange fixes the failing check mid-wait with an interval far longer than
// the test may take: the wait must see the change through its watches, not the next tick.
func TestWaitWakesOnChange(t *testing.T) {
	client := unannotatedAWSNode()
	rec := &recording{}
	rec.onWaiting = func(p Progress) {
		if p.Round != 1 {
			return
		}
		// After Waiting returns, so the wait is asleep when the change lands.
		go func() {
			time.Sleep(50 * time.Millisecond)
			annotateAWSNode(t, client)
		}()
	}
	const interval = 30 * time.Second
	start := time.Now()
	err := Wait(t.Context(), client, testExpectations(), rec, Poll{Timeout: 2 * interval, Interval: interval})
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if took := time.Since(start); took > interval/3 {
		t.Errorf("Wait took %s to see the annotation: it slept out the %s interval instead of waking on the change", took.Round(time.Millisecond), interval)
	}
	if len(rec.waits) != 1 {
		t.Errorf("%d waiting rounds, want 1", len(rec.waits))
	}
}

// TestWaitTimesOut leaves coredns stuck and the rollout unobserved; one check is fixed
// mid-wait and must be reported once as passing, the others named as failed at the end.
func TestWaitTimesOut(t *testing.T) {
	c := healthy()
	c.ds.Generation = 3
	c.coreDNS[0] = coreDNSPod("coredns-0", corev1.PodPending, false)
	c.sa(secretsSA).Annotations = nil
	client := newClientset(c.objects()...)

	rec := &recording{}
	rec.onWaiting = func(p Progress) {
		if p.Round != 2 {
			return
		}
		if _, err := client.CoreV1().ServiceAccounts(secretsSA.Namespace).Update(t.Context(), healthy().sa(secretsSA), metav1.UpdateOptions{}); err != nil {
			t.Errorf("annotate %s: %v", secretsSA, err)
		}
	}
	const timeout = 200 * time.Millisecond
	err := Wait(t.Context(), client, testExpectations(), rec, Poll{Timeout: timeout, Interval: time.Millisecond})

	var verr *Error
	if !errors.As(err, &verr) {
		t.Fatalf("Wait returned %v, want *Error", err)
	}
	wantFailed := []string{CheckAWSNodeRollout, CheckCoreDNSReady}
	if got := names(verr.Failed); !slices.Equal(got, wantFailed) {
		t.Errorf("failed checks %q, want %q", got, wantFailed)
	}
	if verr.Waited != timeout || !strings.Contains(err.Error(), "2 of 7 IRSA checks failed after waiting 200ms:") {
		t.Errorf("error %q, want it to say it waited %s", err, timeout)
	}
	if len(rec.waits) < 2 {
		t.Fatalf("%d waiting rounds, want at least 2", len(rec.waits))
	}
	if got := names(rec.waits[0].Failing); !slices.Equal(got, []string{CheckAWSNodeRollout, CheckCoreDNSReady, CheckIRSAAccounts}) {
		t.Errorf("first round failing %q", got)
	}
	if got := names(rec.waits[len(rec.waits)-1].Failing); !slices.Equal(got, wantFailed) {
		t.Errorf("last round failing %q, want %q", got, wantFailed)
	}
	want := []string{
		"PASS " + CheckClusterAccess, "PASS " + CheckNodesReady, "PASS " + CheckAWSNodeAnnotation, "PASS " + CheckAWSNodeCredentials,
		"PASS " + CheckIRSAAccounts, "FAIL " + CheckAWSNodeRollout, "FAIL " + CheckCoreDNSReady,
	}
	if got := rec.lines(); !slices.Equal(got, want) {
		t.Errorf("reports %q, want %q", got, want)
	}
}

func TestWaitNeedsATimeout(t *testing.T) {
	err := Wait(t.Context(), newClientset(), testExpectations(), &recording{}, Poll{})
	if err == nil || !strings.Contains(err.Error(), "wait timeout is 0s") {
		t.Fatalf("Wait without a timeout = %v, want an error", err)
	}
}

func TestTextReporter(t *testing.T) {
	var buf bytes.Buffer
	r := TextReporter{W: &buf}
	r.Result(Result{Check: CheckNodesReady, Summary: "2 of 2 nodes Ready"})
	r.Waiting(Progress{Round: 2, Remaining: 4*time.Minute + 50*time.Second, Failing: []Result{
		{Check: CheckAWSNodeRollout, Err: errors.New("x")}, {Check: CheckCoreDNSReady, Err: errors.New("y")},
	}})
	r.Result(Result{Check: CheckCoreDNSReady, Err: errors.New("no coredns pods")})
	want := "PASS nodes-ready: 2 of 2 nodes Ready\n" +
		"WAIT round 2, 4m50s left: aws-node-rollout, coredns-ready\n" +
		"FAIL coredns-ready: no coredns pods\n"
	if buf.String() != want {
		t.Errorf("output\n%s\nwant\n%s", buf.String(), want)
	}
}
