package awsemu

// startMoto runs moto_server on a free loopback port for one test and stops its process
// group in t.Cleanup. It stands in for integration/moto.Start (the shared harness, being
// written on branch emu-core) until that merges; the tests then call moto.Start instead.

import (
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

type localMoto struct{ URL, Region string }

func (s *localMoto) Env() []string {
	return []string{"AWS_ENDPOINT_URL=" + s.URL, "AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=" + s.Region, "AWS_DEFAULT_REGION=" + s.Region, "AWS_EC2_METADATA_DISABLED=true"}
}

func startMoto(t *testing.T) *localMoto {
	t.Helper()
	if _, err := exec.LookPath("moto_server"); err != nil {
		t.Skipf("moto_server is not on PATH: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("moto_server", "-H", "127.0.0.1", "-p", fmt.Sprint(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get(url + "/moto-api/"); err == nil {
			r.Body.Close()
			return &localMoto{URL: url, Region: "us-west-2"}
		}
		time.Sleep(100 * time.Millisecond) // polling a port that is not bound yet
	}
	t.Fatal("moto_server did not answer within 30 s")
	return nil
}
