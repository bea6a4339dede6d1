package testcluster_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/eks-irsa/eks-irsa/integration/testcluster"
)

type controlPlane struct {
	Endpoint                 string `json:"endpoint"`
	CertificateAuthorityData string `json:"certificateAuthorityData"`
	Issuer                   string `json:"issuer"`
}

func call(t *testing.T, method, url string) (int, controlPlane) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cp controlPlane
	if resp.StatusCode == http.StatusCreated {
		if err := json.NewDecoder(resp.Body).Decode(&cp); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, cp
}

// readyz asks the endpoint's /readyz, trusting only caData (base64 PEM, as EKS reports it).
func readyz(t *testing.T, cp controlPlane) error {
	t.Helper()
	pem, err := base64.StdEncoding.DecodeString(cp.CertificateAuthorityData)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in the CA data of %s", cp.Endpoint)
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get(cp.Endpoint + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// TestControlPlanes: the first create of a cluster gets the test's own control plane; a delete
// takes it away (its endpoint stops answering); a create of the same name then gets a new,
// seeded control plane with its own endpoint, CA and issuer, whose objects are not the old one's.
func TestControlPlanes(t *testing.T) {
	base := testcluster.Start(t)
	testcluster.SeedEKS(t, base)
	ctx := t.Context()
	// An object only the first cluster has.
	if _, err := base.Client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "old-cluster-only"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s := testcluster.ServeControlPlanes(t, base)
	url := s.URL + "/clusters/demo"

	code, first := call(t, http.MethodPost, url)
	if code != http.StatusCreated || first.Endpoint != base.Server || first.Issuer != base.ServiceAccountIssuer {
		t.Fatalf("first create: %d %+v, want 201 and the base control plane %s", code, first, base.Server)
	}
	if code, _ := call(t, http.MethodPost, url); code != http.StatusConflict {
		t.Errorf("second create of a live cluster: %d, want 409", code)
	}
	if s.Minted() != 0 {
		t.Errorf("minted %d control planes for one cluster, want 0 (the base is handed out)", s.Minted())
	}

	if code, _ := call(t, http.MethodDelete, url); code != http.StatusNoContent {
		t.Fatalf("delete: %d, want 204", code)
	}
	if err := readyz(t, first); err == nil {
		t.Errorf("the deleted cluster's endpoint %s still answers", first.Endpoint)
	}
	if code, _ := call(t, http.MethodDelete, url); code != http.StatusNotFound {
		t.Errorf("delete of a gone cluster: %d, want 404", code)
	}

	code, second := call(t, http.MethodPost, url)
	if code != http.StatusCreated {
		t.Fatalf("create after delete: %d", code)
	}
	if second.Endpoint == first.Endpoint || second.Issuer == first.Issuer || second.CertificateAuthorityData == first.CertificateAuthorityData {
		t.Errorf("the replacement shares the old control plane's endpoint, issuer or CA:\nold %+v\nnew %+v", first, second)
	}
	if err := readyz(t, second); err != nil {
		t.Errorf("the new control plane does not answer with its own CA: %v", err)
	}
	bundle, err := os.ReadFile(s.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	if pem, _ := base64.StdEncoding.DecodeString(second.CertificateAuthorityData); !x509.NewCertPool().AppendCertsFromPEM(bundle) || !contains(bundle, pem) {
		t.Errorf("CABundle does not trust the new CA")
	}
	c := s.Current("demo")
	if c == nil || c.Server != second.Endpoint {
		t.Fatalf("Current(demo) = %v, want the control plane at %s", c, second.Endpoint)
	}
	if _, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, "old-cluster-only", metav1.GetOptions{}); err == nil {
		t.Errorf("the new control plane sees the old cluster's objects")
	}
	if _, err := c.Client.AppsV1().DaemonSets(testcluster.KubeSystem).Get(ctx, testcluster.AWSNodeName, metav1.GetOptions{}); err != nil {
		t.Errorf("the new control plane is not seeded as EKS seeds a cluster: %v", err)
	}
}

func contains(haystack, needle []byte) bool {
	return len(needle) > 0 && len(haystack) >= len(needle) && string(haystack[len(haystack)-len(needle):]) == string(needle)
}
