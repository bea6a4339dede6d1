package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/integration/testbin"
)

// credentialPoller stands in each workload's place: once a second it takes the next live pod
// of the workload (Running, not terminating) and runs podcreds, a workload's first AWS call
// through the AWS SDK for Go v2's own providers, with that pod's container environment, its
// projected token files filled from the apiserver's TokenRequest for that pod (bound to it,
// with the audience and lifetime its volume asks, as the kubelet fills them) and STS sent to
// moto. Whichever path the pod's variables give (IRSA's web identity, or Pod Identity's agent
// stand-in and EKS Auth), the credentials must name the account's role; the test fails for
// every moment they do not. One fetch a second per workload, whatever its replicas: each run
// is a process, and the machine has two cores.
type credentialPoller struct {
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	fetches int
	sources map[string]int // credential source → fetches
}

// The credential sources podcreds reports: the SDK's providers' own names.
const (
	webIdentitySource = stscreds.WebIdentityProviderName // AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE
	containerSource   = endpointcreds.ProviderName       // AWS_CONTAINER_CREDENTIALS_FULL_URI
)

// podCredentials is what podcreds printed.
type podCredentials struct {
	ARN    string `json:"arn"`
	Source string `json:"source"`
}

func (e *emulated) startCredentialPoller(namespace, selector, roleName string) *credentialPoller {
	t := e.t
	t.Helper()
	bin := testbin.Path(t, "podcreds")
	p := &credentialPoller{done: make(chan struct{}), sources: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer cancel()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		next, last := 0, map[string]string{}
		for {
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
			pods, err := e.cluster.Client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				t.Errorf("credential poller: list pods %s in %s: %v", selector, namespace, err)
				continue
			}
			live := slices.DeleteFunc(pods.Items, func(p corev1.Pod) bool { return p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning })
			if len(live) == 0 {
				continue
			}
			slices.SortFunc(live, func(a, b corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
			pod := &live[next%len(live)]
			next++
			got, err := e.fetchPodCredentials(ctx, bin, pod)
			switch {
			case err != nil && ctx.Err() != nil:
				return
			case err != nil:
				t.Errorf("credential poller: pod %s/%s at %s: %v", namespace, pod.Name, time.Now().Format(time.RFC3339Nano), err)
				continue
			case !strings.Contains(got.ARN, ":assumed-role/"+roleName+"/"):
				t.Errorf("credential poller: pod %s/%s at %s got credentials of %s (%s), want a session of role %s", namespace, pod.Name, time.Now().Format(time.RFC3339Nano), got.ARN, got.Source, roleName)
				continue
			}
			p.mu.Lock()
			p.fetches++
			p.sources[got.Source]++
			p.mu.Unlock()
			if last[pod.Name] != got.Source {
				t.Logf("credential poller: pod %s/%s takes %s credentials: %s", namespace, pod.Name, got.Source, got.ARN)
				last[pod.Name] = got.Source
			}
		}
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

// stop ends the polling and returns how many fetches each credential source served.
func (p *credentialPoller) stop() map[string]int {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sources
}

// fetchPodCredentials runs podcreds as the pod's first container would run.
func (e *emulated) fetchPodCredentials(ctx context.Context, bin string, pod *corev1.Pod) (podCredentials, error) {
	dir, err := os.MkdirTemp("", "podcreds-")
	if err != nil {
		return podCredentials{}, err
	}
	defer os.RemoveAll(dir)
	c := pod.Spec.Containers[0]
	// The token files the kubelet would write for the container's projected volumes.
	files := map[string]string{} // path in the pod → path here
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name != v.Name {
				continue
			}
			for _, src := range v.Projected.Sources {
				sat := src.ServiceAccountToken
				if sat == nil {
					continue
				}
				in := filepath.Join(m.MountPath, sat.Path)
				var audiences []string
				if sat.Audience != "" {
					audiences = []string{sat.Audience}
				}
				tr, err := e.cluster.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName, &authenticationv1.TokenRequest{
					Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: sat.ExpirationSeconds,
						BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}},
				}, metav1.CreateOptions{})
				if err != nil {
					return podCredentials{}, fmt.Errorf("TokenRequest for pod %s (volume %s, audience %q): %w", pod.Name, v.Name, sat.Audience, err)
				}
				here := filepath.Join(dir, "pod", in)
				if err := os.MkdirAll(filepath.Dir(here), 0o700); err != nil {
					return podCredentials{}, err
				}
				if err := os.WriteFile(here, []byte(tr.Status.Token), 0o600); err != nil {
					return podCredentials{}, err
				}
				files[in] = here
			}
		}
	}
	// What a pod has besides its container's variables: no shared config or credentials, no
	// instance metadata (IMDSv2 with hop limit 1 keeps pods off the node's role), STS at moto.
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"AWS_CONFIG_FILE=" + filepath.Join(dir, "no-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_STS=" + e.moto.URL,
		"AWS_REGION=" + emuRegion,
	}
	if race, ok := os.LookupEnv("GORACE"); ok {
		env = append(env, "GORACE="+race) // testbin.Dir's: no second's sleep at a race-built exit
	}
	for _, v := range c.Env {
		value := v.Value
		if here, ok := files[value]; ok {
			value = here
		}
		env = append(env, v.Name+"="+value)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return podCredentials{}, fmt.Errorf("podcreds: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	var got podCredentials
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		return podCredentials{}, fmt.Errorf("podcreds printed %q: %w", stdout.String(), err)
	}
	return got, nil
}
