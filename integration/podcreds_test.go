package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/eks-irsa/eks-irsa/integration/testbin"
)

// credentialPoller stands in the workloads' places: for every live pod (Running, not
// terminating) that the selector picks, a podcreds process runs from when the pod appears
// until it goes, with the pod's container environment, its projected token files filled from
// the apiserver's TokenRequest for that pod (bound to it, with the audience and lifetime its
// volume asks, as the kubelet fills them) and STS sent to moto, and fetches credentials once a
// second through the AWS SDK for Go v2's own providers. Whichever path the pod's variables
// give (IRSA's web identity, or Pod Identity's agent stand-in and EKS Auth), every fetch must
// name the role of the pod's account; the test fails for every fetch that does not, and for a
// process that ends before its pod does.
type credentialPoller struct {
	t        testing.TB
	e        *emulated
	bin      string
	selector string
	roles    map[string]string // namespace/account → role name
	done     chan struct{}
	looped   chan struct{}  // closed when the watch loop has returned
	wg       sync.WaitGroup // every process's reader

	mu      sync.Mutex
	procs   map[types.UID]*podProcess
	sources map[string]map[string]int // namespace/account → credential source → fetches
	started int
	cpu     time.Duration // user+system of the processes that have ended
}

// podProcess is one pod's podcreds.
type podProcess struct {
	pod     string // namespace/name
	account string
	dir     string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stopped bool // ended by the poller, its pod gone (under credentialPoller.mu)
}

// The credential sources podcreds reports: the SDK's providers' own names.
const (
	webIdentitySource = stscreds.WebIdentityProviderName // AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE
	containerSource   = endpointcreds.ProviderName       // AWS_CONTAINER_CREDENTIALS_FULL_URI
)

// podFetch is one line podcreds printed.
type podFetch struct {
	ARN    string `json:"arn"`
	Source string `json:"source"`
	Error  string `json:"error"`
}

// startCredentialPoller polls the pods of every namespace that selector picks; roles names,
// per namespace/account, the role whose sessions its pods must get.
func (e *emulated) startCredentialPoller(selector string, roles map[string]string) *credentialPoller {
	t := e.t
	t.Helper()
	p := &credentialPoller{t: t, e: e, bin: testbin.Path(t, "podcreds"), selector: selector, roles: roles, done: make(chan struct{}),
		looped: make(chan struct{}), procs: map[types.UID]*podProcess{}, sources: map[string]map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(p.looped)
		defer cancel()
		// A list a second: a new pod's process starts within a second of its Running, as a
		// container's would after its image pull.
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			p.sync(ctx)
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

// sync starts a process for each live pod that has none and ends those of pods gone.
func (p *credentialPoller) sync(ctx context.Context) {
	pods, err := p.e.cluster.Client.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: p.selector})
	if err != nil {
		if ctx.Err() == nil {
			p.t.Errorf("credential poller: list pods %s: %v", p.selector, err)
		}
		return
	}
	live := map[types.UID]bool{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning {
			continue
		}
		live[pod.UID] = true
		p.mu.Lock()
		_, running := p.procs[pod.UID]
		p.mu.Unlock()
		if running {
			continue
		}
		if err := p.startPod(ctx, pod); err != nil && ctx.Err() == nil {
			p.t.Errorf("credential poller: pod %s/%s: %v", pod.Namespace, pod.Name, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for uid, proc := range p.procs {
		if !live[uid] && !proc.stopped {
			proc.stopped = true
			_ = proc.stdin.Close()
		}
	}
}

// startPod starts podcreds as the pod's container would run, with the token files the kubelet
// would write for the container's projected volumes.
func (p *credentialPoller) startPod(ctx context.Context, pod *corev1.Pod) error {
	account := pod.Namespace + "/" + pod.Spec.ServiceAccountName
	role, ok := p.roles[account]
	if !ok {
		return fmt.Errorf("runs as %s, which the poller has no role for", account)
	}
	dir, err := os.MkdirTemp("", "podcreds-")
	if err != nil {
		return err
	}
	env, err := p.podEnv(ctx, pod, dir)
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	cmd := exec.Command(p.bin)
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return err
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return fmt.Errorf("start podcreds: %w", err)
	}
	proc := &podProcess{pod: pod.Namespace + "/" + pod.Name, account: account, dir: dir, cmd: cmd, stdin: stdin}
	p.mu.Lock()
	p.procs[pod.UID] = proc
	p.started++
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer os.RemoveAll(dir)
		last := ""
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			var f podFetch
			now := time.Now().Format(time.RFC3339Nano)
			switch err := json.Unmarshal(lines.Bytes(), &f); {
			case err != nil:
				p.t.Errorf("credential poller: pod %s at %s: podcreds printed %q: %v", proc.pod, now, lines.Text(), err)
				continue
			case f.Error != "":
				p.t.Errorf("credential poller: pod %s at %s: %s", proc.pod, now, f.Error)
				continue
			case !strings.Contains(f.ARN, ":assumed-role/"+role+"/"):
				p.t.Errorf("credential poller: pod %s at %s got credentials of %s (%s), want a session of role %s", proc.pod, now, f.ARN, f.Source, role)
				continue
			}
			p.mu.Lock()
			if p.sources[account] == nil {
				p.sources[account] = map[string]int{}
			}
			p.sources[account][f.Source]++
			p.mu.Unlock()
			if f.Source != last {
				p.t.Logf("credential poller: pod %s takes %s credentials: %s", proc.pod, f.Source, f.ARN)
				last = f.Source
			}
		}
		err := cmd.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		if !proc.stopped {
			p.t.Errorf("credential poller: pod %s's podcreds ended while the pod runs: %v: %s", proc.pod, err, strings.TrimSpace(stderr.String()))
		}
	}()
	return nil
}

// podEnv is the container's environment as the pod has it, its token files written under dir.
func (p *credentialPoller) podEnv(ctx context.Context, pod *corev1.Pod, dir string) ([]string, error) {
	c := pod.Spec.Containers[0]
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
				tr, err := p.e.cluster.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, pod.Spec.ServiceAccountName, &authenticationv1.TokenRequest{
					Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: sat.ExpirationSeconds,
						BoundObjectRef: &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID}},
				}, metav1.CreateOptions{})
				if err != nil {
					return nil, fmt.Errorf("TokenRequest for pod %s (volume %s, audience %q): %w", pod.Name, v.Name, sat.Audience, err)
				}
				here := filepath.Join(dir, "pod", in)
				if err := os.MkdirAll(filepath.Dir(here), 0o700); err != nil {
					return nil, err
				}
				if err := os.WriteFile(here, []byte(tr.Status.Token), 0o600); err != nil {
					return nil, err
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
		"AWS_ENDPOINT_URL_STS=" + p.e.moto.URL,
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
	return env, nil
}

// stop ends the polling and every pod's process, and returns, per account, how many fetches
// each credential source served.
func (p *credentialPoller) stop() map[string]map[string]int {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	<-p.looped // no process starts after this
	p.mu.Lock()
	for _, proc := range p.procs {
		if !proc.stopped {
			proc.stopped = true
			_ = proc.stdin.Close()
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sources
}

// usage is how many processes the poller started and the CPU they used (user+system).
func (p *credentialPoller) usage() (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started, p.cpu
}
