package infra

import (
	"bytes"
	"errors"
	"fmt"
	"mime/multipart"
	"net/textproto"

	"sigs.k8s.io/yaml"
)

// NodeConfig media type and boundary of the nodeadm user data. The boundary is fixed so the
// same inputs always give the same launch template (a second `up` changes nothing).
const (
	nodeConfigMediaType = "application/node.eks.aws"
	userDataBoundary    = "EKSIRSA-NODECONFIG"
)

// NodeConfigParams are what nodeadm needs to join a node without calling DescribeCluster.
type NodeConfigParams struct {
	ClusterName string
	Endpoint    string
	CAData      string // base64 PEM
	ServiceCIDR string
}

// nodeConfig is nodeadm's node.eks.aws/v1alpha1 NodeConfig, the fields this program sets.
type nodeConfig struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Cluster struct {
			Name                 string `json:"name"`
			APIServerEndpoint    string `json:"apiServerEndpoint"`
			CertificateAuthority string `json:"certificateAuthority"`
			CIDR                 string `json:"cidr"`
		} `json:"cluster"`
	} `json:"spec"`
}

// NodeUserData is the MIME multi-part user data that Amazon Linux 2023's nodeadm reads.
func NodeUserData(p NodeConfigParams) (string, error) {
	if p.ClusterName == "" || p.Endpoint == "" || p.CAData == "" || p.ServiceCIDR == "" {
		return "", errors.New("node user data: cluster name, endpoint, CA data and service CIDR are required")
	}
	var cfg nodeConfig
	cfg.APIVersion, cfg.Kind = "node.eks.aws/v1alpha1", "NodeConfig"
	cfg.Spec.Cluster.Name = p.ClusterName
	cfg.Spec.Cluster.APIServerEndpoint = p.Endpoint
	cfg.Spec.Cluster.CertificateAuthority = p.CAData
	cfg.Spec.Cluster.CIDR = p.ServiceCIDR
	doc, err := yaml.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("node user data: %w", err)
	}

	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if err := w.SetBoundary(userDataBoundary); err != nil {
		return "", fmt.Errorf("node user data: %w", err)
	}
	part, err := w.CreatePart(textproto.MIMEHeader{"Content-Type": {nodeConfigMediaType}})
	if err != nil {
		return "", fmt.Errorf("node user data: %w", err)
	}
	if _, err := part.Write(append([]byte("---\n"), doc...)); err != nil {
		return "", fmt.Errorf("node user data: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("node user data: %w", err)
	}
	return fmt.Sprintf("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=%q\r\n\r\n%s",
		w.Boundary(), body.String()), nil
}
