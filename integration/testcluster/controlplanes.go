package testcluster

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// ControlPlanes is the control-plane service of the emulated EKS: each cluster created in
// moto gets a control plane of its own (endpoint, CA, service-account issuer and signing key)
// at CreateCluster and loses it at DeleteCluster, as an EKS cluster does. It is an HTTP
// endpoint on 127.0.0.1 because its clients live in other processes (moto's EKS extension,
// integration/moto/eks_cluster.py), and it belongs to the test, because a control plane must
// outlive the provider plugin that asked for it (one process per engine operation).
//
//	POST   /clusters/{name}  → 201 {"endpoint", "certificateAuthorityData" (base64 PEM), "issuer"};
//	                            409 when the name has a control plane already
//	DELETE /clusters/{name}  → 204, its apiserver and controller manager stopped; 404 when none
//
// Cost: a test has already paid for one control plane (etcd, apiserver, controller manager,
// seeds, kubelets), so the first create of its cluster is handed that one, Base. Only a later
// create (a replaced cluster) starts another: a kube-apiserver and controller manager on Base's
// etcd under their own --etcd-prefix, with new certificates and keys (a few seconds), seeded
// with what a fresh EKS cluster carries (SeedEKS). A control plane once deleted is never handed
// out again, and its endpoint stops answering, so nothing can reach the old cluster's objects.
type ControlPlanes struct {
	// URL is the service's base URL (http://127.0.0.1:PORT).
	URL string
	// CABundle is a PEM file of every CA handed out so far (Base's first): EKS's issuer has a
	// publicly trusted certificate, and this file plays the trust store that makes each loopback
	// issuer trusted (SSL_CERT_FILE of the processes that dial the issuer).
	CABundle string

	t    testing.TB
	base *Cluster

	mu     sync.Mutex
	live   map[string]*Cluster
	minted int
	given  bool // Base was handed out
}

// controlPlaneJSON is what POST returns: the three values EKS's DescribeCluster reports.
type controlPlaneJSON struct {
	Endpoint                 string `json:"endpoint"`
	CertificateAuthorityData string `json:"certificateAuthorityData"`
	Issuer                   string `json:"issuer"`
}

// ServeControlPlanes starts the service with base as the first control plane it hands out.
// The server and every minted control plane stop in t.Cleanup.
func ServeControlPlanes(t testing.TB, base *Cluster) *ControlPlanes {
	t.Helper()
	s := &ControlPlanes{t: t, base: base, live: map[string]*Cluster{},
		CABundle: filepath.Join(t.TempDir(), "ca-bundle.pem")}
	if err := os.WriteFile(s.CABundle, base.CAData, 0o600); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /clusters/{name}", s.create)
	mux.HandleFunc("DELETE /clusters/{name}", s.delete)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.URL = "http://" + l.Addr().String()
	return s
}

// Current returns the control plane the named cluster has now, or nil.
func (s *ControlPlanes) Current(name string) *Cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[name]
}

// Minted is how many control planes the service started beyond Base.
func (s *ControlPlanes) Minted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.minted
}

func (s *ControlPlanes) create(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	// One create at a time: a cluster name gets one control plane, and starts do not overlap.
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.live[name]; ok {
		http.Error(w, fmt.Sprintf("cluster %s has a control plane already", name), http.StatusConflict)
		return
	}
	c := s.base
	if s.given {
		var err error
		if c, err = s.mint(name); err != nil {
			s.t.Logf("testcluster: control plane for %s: %v", name, err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	s.given = true
	s.live[name] = c
	s.t.Logf("testcluster: cluster %s has control plane %s", name, c.Server)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(controlPlaneJSON{
		Endpoint:                 c.Server,
		CertificateAuthorityData: base64.StdEncoding.EncodeToString(c.CAData),
		Issuer:                   c.ServiceAccountIssuer,
	})
}

func (s *ControlPlanes) delete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	c, ok := s.live[name]
	delete(s.live, name)
	s.mu.Unlock()
	if !ok {
		http.Error(w, fmt.Sprintf("cluster %s has no control plane", name), http.StatusNotFound)
		return
	}
	c.markDeleting()
	// The apiserver and controller manager only: etcd is Base's and carries the minted ones.
	for i := len(c.procs) - 1; i >= 0; i-- {
		if p := c.procs[i]; p != c.etcd {
			p.stop(s.t)
		}
	}
	s.t.Logf("testcluster: cluster %s's control plane %s is gone", name, c.Server)
	w.WriteHeader(http.StatusNoContent)
}

// mint starts a control plane like Base's (same tools and options, the authenticator for
// name) on Base's etcd under a prefix of its own, seeds it and trusts its CA in CABundle.
func (s *ControlPlanes) mint(name string) (*Cluster, error) {
	opts := s.base.opts
	if opts.AWSIAM != nil {
		a := *opts.AWSIAM
		a.ClusterName = name
		opts.AWSIAM = &a
	}
	s.minted++
	prefix := "/minted-" + strconv.Itoa(s.minted)
	began := time.Now()
	var c *Cluster
	for attempt := 1; ; attempt++ {
		var (
			p   *pki
			err error
		)
		if c, p, err = newCluster(s.t); err == nil {
			err = c.serve(s.t, s.base.bin, opts, p, s.base.etcdURL, prefix)
		}
		if err == nil {
			break
		}
		if c != nil {
			for i := len(c.procs) - 1; i >= 0; i-- {
				c.procs[i].stop(s.t)
			}
		}
		if !errors.Is(err, errPortInUse) || attempt == 3 {
			return nil, err
		}
	}
	c.StartTime = time.Since(began)
	if err := seedEKS(s.t.Context(), c); err != nil {
		return nil, fmt.Errorf("seed %s: %w", c.Server, err)
	}
	bundle, err := os.OpenFile(s.CABundle, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer bundle.Close()
	if _, err := bundle.Write(c.CAData); err != nil {
		return nil, err
	}
	s.t.Logf("testcluster: minted control plane %s (etcd prefix %s) in %s", c.Server, prefix, c.StartTime.Round(time.Millisecond))
	return c, nil
}
